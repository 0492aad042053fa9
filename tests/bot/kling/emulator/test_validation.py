"""Kling's input rules for a request and for the selection session (init, add and delete selection):
each breach gets the documented code and a message naming the field."""

from __future__ import annotations

import aiohttp
import pytest

from bot.kling.emulator import KlingEmulator

from .conftest import Clips, api, centre, red_box
from .validation_support import (
    EDIT,
    assert_error,
    open_session,
)


async def test_a_body_that_is_not_json_is_1200(
    http: aiohttp.ClientSession, emulator: KlingEmulator
) -> None:
    async with http.post(f"{emulator.base_url}{EDIT}/init-selection", data=b"{not json") as resp:
        assert_error(resp.status, await resp.json(), 1200, "JSON")


@pytest.mark.parametrize("prefix", ["", "/kling"])
async def test_unknown_endpoints_are_1202(
    http: aiohttp.ClientSession, emulator: KlingEmulator, prefix: str
) -> None:
    status, body = await api(http, "POST", f"{emulator.base_url}{prefix}/v1/videos/nope", {})
    assert_error(status, body, 1202)
    status, body = await api(http, "DELETE", f"{emulator.base_url}{prefix}{EDIT}", {})
    assert_error(status, body, 1202)


@pytest.mark.parametrize(
    ("clip", "options", "words"),
    [
        ("short.mp4", {"seconds": 1.0}, ("1.0 s", "2–5 s or 7–10 s")),
        ("between.mp4", {"seconds": 6.0}, ("6.0 s",)),
        ("fps25.mp4", {"fps": 25}, ("25 fps",)),
        ("small.mp4", {"width": 640, "height": 360}, ("640x360", "720")),
    ],
)
async def test_init_refuses_videos_that_break_kling_rules(
    http: aiohttp.ClientSession,
    emulator: KlingEmulator,
    file_server: str,
    clips: Clips,
    clip: str,
    options: dict,
    words: tuple[str, ...],
) -> None:
    name = clips.make(clip, **{"width": 720, "height": 720, **options})
    status, body = await api(
        http,
        "POST",
        f"{emulator.base_url}{EDIT}/init-selection",
        {"video_url": f"{file_server}/{name}"},
    )
    assert_error(status, body, 1201, "video_url", *words)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ("video_id or video_url",)),
        ({"video_id": "1", "video_url": "http://x/y.mp4"}, ("both",)),
        ({"video_url": "ftp://example.invalid/a.mp4"}, ("video_url", "http")),
    ],
)
async def test_init_needs_exactly_one_video_source(
    http: aiohttp.ClientSession, emulator: KlingEmulator, body: dict, words: tuple[str, ...]
) -> None:
    status, reply = await api(http, "POST", f"{emulator.base_url}{EDIT}/init-selection", body)
    assert_error(status, reply, 1201, *words)


async def test_init_reports_unreachable_unreadable_and_oversized_videos(
    http: aiohttp.ClientSession, file_server: str, clips: Clips, clock
) -> None:
    (clips.folder / "not-a-video.mp4").write_bytes(b"hello, not a video")
    async with KlingEmulator(clock=clock, max_download_bytes=1000) as capped:
        url = f"{capped.base_url}{EDIT}/init-selection"
        status, body = await api(http, "POST", url, {"video_url": f"{file_server}/missing.mp4"})
        assert_error(status, body, 1201, "video_url", "404")
        status, body = await api(http, "POST", url, {"video_url": f"{file_server}/scene.mp4"})
        assert_error(status, body, 1201, "video_url", "1000 byte")
        status, body = await api(http, "POST", url, {"video_url": f"{file_server}/not-a-video.mp4"})
        assert_error(status, body, 1201, "video_url", "not a readable video")


async def test_unknown_and_expired_sessions_are_1203(
    http: aiohttp.ClientSession, emulator: KlingEmulator, file_server: str
) -> None:
    status, body = await api(
        http, "POST", f"{emulator.base_url}{EDIT}/clear-selection", {"session_id": "42"}
    )
    assert_error(status, body, 1203, "does not exist")
    session_id = await open_session(http, emulator, file_server, points=False)
    emulator.advance(24 * 3600 - 60)
    status, body = await api(
        http, "POST", f"{emulator.base_url}{EDIT}/clear-selection", {"session_id": session_id}
    )
    assert status == 200
    emulator.advance(120)
    status, body = await api(
        http,
        "POST",
        f"{emulator.base_url}{EDIT}/add-selection",
        {"session_id": session_id, "frame_index": 0, "points": [{"x": 0.5, "y": 0.5}]},
    )
    assert_error(status, body, 1203, "expired")


@pytest.mark.parametrize(
    ("frame_index", "points", "words"),
    [
        (48, [{"x": 0.5, "y": 0.5}], ("frame_index", "0..47")),
        (-1, [{"x": 0.5, "y": 0.5}], ("frame_index",)),
        ("3", [{"x": 0.5, "y": 0.5}], ("frame_index", "integer")),
        (0, [], ("points",)),
        (0, [{"x": 1.2, "y": 0.5}], ("points[0].x", "[0, 1]")),
        (0, [{"x": 0.5, "y": 0.5}, {"x": 0.5, "y": -0.01}], ("points[1].y",)),
        (0, [{"x": 0.5}], ("points[0].y",)),
        (0, [{"x": 0.1 * i, "y": 0.5} for i in range(11)], ("at most 10 points",)),
    ],
)
async def test_add_selection_checks_frame_and_points(
    http: aiohttp.ClientSession,
    emulator: KlingEmulator,
    file_server: str,
    frame_index: object,
    points: list,
    words: tuple[str, ...],
) -> None:
    session_id = await open_session(http, emulator, file_server, points=False)
    status, body = await api(
        http,
        "POST",
        f"{emulator.base_url}{EDIT}/add-selection",
        {"session_id": session_id, "frame_index": frame_index, "points": points},
    )
    assert_error(status, body, 1201, *words)


async def test_at_most_ten_points_per_frame_and_ten_marked_frames(
    http: aiohttp.ClientSession, emulator: KlingEmulator, file_server: str
) -> None:
    session_id = await open_session(http, emulator, file_server, points=False)
    url = f"{emulator.base_url}{EDIT}/add-selection"
    nine = [{"x": 0.05 + 0.01 * i, "y": 0.05} for i in range(9)]
    for frame in range(10):
        status, body = await api(
            http, "POST", url, {"session_id": session_id, "frame_index": frame, "points": nine}
        )
        assert status == 200, body
    status, body = await api(
        http,
        "POST",
        url,
        {"session_id": session_id, "frame_index": 10, "points": [{"x": 0.5, "y": 0.5}]},
    )
    assert_error(status, body, 1201, "at most 10 frames")
    status, body = await api(
        http,
        "POST",
        url,
        {
            "session_id": session_id,
            "frame_index": 3,
            "points": [{"x": 0.9, "y": 0.9}, {"x": 0.8, "y": 0.8}],
        },
    )
    assert_error(status, body, 1201, "at most 10 points", "already has 9")
    status, body = await api(
        http,
        "POST",
        url,
        {"session_id": session_id, "frame_index": 3, "points": [{"x": 0.9, "y": 0.9}]},
    )
    assert status == 200


async def test_delete_needs_the_exact_coordinates(
    http: aiohttp.ClientSession, emulator: KlingEmulator, file_server: str
) -> None:
    session_id = await open_session(http, emulator, file_server, points=False)
    x, y = centre(red_box(0))
    url = f"{emulator.base_url}{EDIT}"
    await api(
        http,
        "POST",
        f"{url}/add-selection",
        {"session_id": session_id, "frame_index": 0, "points": [{"x": x, "y": y}]},
    )
    status, body = await api(
        http,
        "POST",
        f"{url}/delete-selection",
        {
            "session_id": session_id,
            "frame_index": 0,
            "points": [{"x": round(x, 3) + 0.0001, "y": y}],
        },
    )
    assert_error(status, body, 1201, "points[0]", "exactly match")
    status, body = await api(
        http,
        "POST",
        f"{url}/delete-selection",
        {"session_id": session_id, "frame_index": 1, "points": [{"x": x, "y": y}]},
    )
    assert_error(status, body, 1201, "frame 1")
    status, body = await api(
        http,
        "POST",
        f"{url}/delete-selection",
        {"session_id": session_id, "frame_index": 0, "points": [{"x": x, "y": y}]},
    )
    assert status == 200
    assert body["data"]["res"]["rle_mask_list"] == []
