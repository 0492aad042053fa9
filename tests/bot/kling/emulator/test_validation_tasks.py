"""Kling's input rules for tasks: an edit task's prompt, mode, duration and images, reference
images, multi-image tasks, taken external task ids, list paging and unknown tasks: each breach
gets the documented code and a message naming the field."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from bot.kling.emulator import KlingEmulator

from .conftest import Clips, api, b64, png_bytes
from .validation_support import (
    EDIT,
    assert_error,
    open_session,
)

MULTI = "/v1/videos/multi-image2video"
REMOVE_PROMPT = "Delete the red square from <<<video_1>>>"


def _edit(session_id: str, **fields: object) -> dict:
    return {
        "session_id": session_id,
        "edit_mode": "removal",
        "prompt": REMOVE_PROMPT,
        "mode": "std",
        "duration": "5",
        **fields,
    }


IMAGE_OK = b64(png_bytes((400, 400), (250, 220, 0)))

TASK_CASES: list[tuple[str, Callable[[str], dict], tuple[str, ...]]] = [
    ("long prompt", lambda s: _edit(s, prompt="<<<video_1>>>" + "x" * 2490), ("prompt", "2500")),
    ("long negative", lambda s: _edit(s, negative_prompt="n" * 2501), ("negative_prompt",)),
    ("no prompt", lambda s: _edit(s, prompt=""), ("prompt is required",)),
    ("no video ref", lambda s: _edit(s, prompt="Delete it"), ("<<<video_1>>>",)),
    ("bad mode", lambda s: _edit(s, mode="ultra"), ("mode",)),
    ("bad edit mode", lambda s: _edit(s, edit_mode="replace"), ("edit_mode",)),
    ("bad model", lambda s: _edit(s, model_name="kling-v9"), ("model_name",)),
    ("int duration", lambda s: _edit(s, duration=5), ("duration",)),
    ("10 s of a 2 s clip", lambda s: _edit(s, duration="10"), ("duration", "7-10 s", "2.00 s")),
    (
        "removal + image",
        lambda s: _edit(s, image_list=[{"image": IMAGE_OK}]),
        ("image_list", "0 images for removal"),
    ),
    ("swap without image", lambda s: _edit(s, edit_mode="swap"), ("1 images for swap",)),
    (
        "swap with two",
        lambda s: _edit(s, edit_mode="swap", image_list=[{"image": IMAGE_OK}] * 2),
        ("swap",),
    ),
    ("addition without", lambda s: _edit(s, edit_mode="addition"), ("1-2 images for addition",)),
    (
        "addition with three",
        lambda s: _edit(s, edit_mode="addition", image_list=[{"image": IMAGE_OK}] * 3),
        ("got 3",),
    ),
    (
        "image ref beyond list",
        lambda s: _edit(
            s,
            edit_mode="swap",
            image_list=[{"image": IMAGE_OK}],
            prompt="swap <<<image_2>>> into <<<video_1>>>",
        ),
        ("<<<image_2>>>",),
    ),
    ("callback not http", lambda s: _edit(s, callback_url="file:///etc/passwd"), ("callback_url",)),
]


@pytest.mark.parametrize(("case", "make_body", "words"), TASK_CASES, ids=[c[0] for c in TASK_CASES])
async def test_create_edit_task_rules(
    http: aiohttp.ClientSession,
    emulator: KlingEmulator,
    file_server: str,
    case: str,
    make_body: Callable[[str], dict],
    words: tuple[str, ...],
) -> None:
    session_id = await open_session(http, emulator, file_server)
    status, body = await api(http, "POST", f"{emulator.base_url}{EDIT}", make_body(session_id))
    assert_error(status, body, 1201, *words)


def _image_b64(size: tuple[int, int], fmt: str = "PNG") -> str:
    return b64(png_bytes(size, (200, 100, 50), fmt))


IMAGE_CASES = [
    ("webp", lambda: _image_b64((400, 400), "WEBP"), ("jpg or png", "WEBP")),
    ("too small", lambda: _image_b64((299, 400)), ("299x400", "300")),
    ("too wide", lambda: _image_b64((1000, 399)), ("aspect ratio",)),
    ("data url", lambda: "data:image/png;base64," + IMAGE_OK, ("raw base64",)),
    ("not base64", lambda: "%%%not-base64%%%", ("neither a URL nor valid base64",)),
    ("not an image", lambda: b64(b"plain text"), ("could not be read",)),
    ("over 10 MB", lambda: b64(b"\x89PNG" + b"\0" * (10 * 1024 * 1024)), ("10 MB",)),
]


@pytest.mark.parametrize(
    ("case", "make_image", "words"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES]
)
async def test_reference_image_rules(
    http: aiohttp.ClientSession,
    emulator: KlingEmulator,
    case: str,
    make_image: Callable[[], str],
    words: tuple[str, ...],
) -> None:
    status, body = await api(
        http,
        "POST",
        f"{emulator.base_url}{MULTI}",
        {
            "image_list": [{"image": IMAGE_OK}, {"image": make_image()}],
            "prompt": "two images",
            "aspect_ratio": "16:9",
        },
    )
    assert_error(status, body, 1201, "image_list[1].image", *words)


async def test_reference_images_by_url_are_fetched_and_checked(
    http: aiohttp.ClientSession, emulator: KlingEmulator, file_server: str, clips: Clips
) -> None:
    (clips.folder / "ok.jpg").write_bytes(png_bytes((500, 400), (1, 2, 3), "JPEG"))
    (clips.folder / "tiny.png").write_bytes(png_bytes((100, 100), (1, 2, 3)))
    url = f"{emulator.base_url}{MULTI}"
    status, body = await api(
        http, "POST", url, {"image_list": [{"image": f"{file_server}/ok.jpg"}], "prompt": "one"}
    )
    assert status == 200, body
    status, body = await api(
        http, "POST", url, {"image_list": [{"image": f"{file_server}/tiny.png"}], "prompt": "one"}
    )
    assert_error(status, body, 1201, "image_list[0].image", "100x100")


async def test_multi_image_rules(http: aiohttp.ClientSession, emulator: KlingEmulator) -> None:
    url = f"{emulator.base_url}{MULTI}"
    five = [{"image": IMAGE_OK}] * 5
    status, body = await api(http, "POST", url, {"image_list": five, "prompt": "p"})
    assert_error(status, body, 1201, "image_list", "got 5")
    status, body = await api(
        http,
        "POST",
        url,
        {"image_list": [{"image": IMAGE_OK}], "prompt": "p", "aspect_ratio": "4:3"},
    )
    assert_error(status, body, 1201, "aspect_ratio")
    status, body = await api(http, "POST", url, {"image_list": [{"image": IMAGE_OK}]})
    assert_error(status, body, 1201, "prompt is required")


async def test_a_session_without_points_cannot_be_edited_or_previewed(
    http: aiohttp.ClientSession, emulator: KlingEmulator, file_server: str
) -> None:
    session_id = await open_session(http, emulator, file_server, points=False)
    status, body = await api(http, "POST", f"{emulator.base_url}{EDIT}", _edit(session_id))
    assert_error(status, body, 1201, "no selection")
    status, body = await api(
        http, "POST", f"{emulator.base_url}{EDIT}/preview-selection", {"session_id": session_id}
    )
    assert_error(status, body, 1201, "no selection")


async def test_duplicate_external_task_id_is_refused_across_endpoints(
    http: aiohttp.ClientSession, emulator: KlingEmulator, file_server: str
) -> None:
    session_id = await open_session(http, emulator, file_server)
    url = f"{emulator.base_url}{EDIT}"
    status, body = await api(http, "POST", url, _edit(session_id, external_task_id="job-1"))
    assert status == 200, body
    status, body = await api(http, "POST", url, _edit(session_id, external_task_id="job-1"))
    assert_error(status, body, 1201, "external_task_id", "already exists")
    status, body = await api(
        http,
        "POST",
        f"{emulator.base_url}{MULTI}",
        {"image_list": [{"image": IMAGE_OK}], "prompt": "p", "external_task_id": "job-1"},
    )
    assert_error(status, body, 1201, "external_task_id")


@pytest.mark.parametrize("query", ["pageNum=0", "pageNum=1001", "pageSize=501", "pageSize=x"])
async def test_list_paging_limits(
    http: aiohttp.ClientSession, emulator: KlingEmulator, query: str
) -> None:
    status, body = await api(http, "GET", f"{emulator.base_url}{EDIT}?{query}")
    assert_error(status, body, 1201, query.split("=")[0])


async def test_unknown_tasks_are_1203(http: aiohttp.ClientSession, emulator: KlingEmulator) -> None:
    for path in (f"{EDIT}/123", f"{MULTI}/123", f"{EDIT}?external_task_id=nope"):
        status, body = await api(http, "GET", f"{emulator.base_url}{path}")
        assert_error(status, body, 1203, "does not exist")
