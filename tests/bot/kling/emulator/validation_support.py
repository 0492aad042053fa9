"""What the emulator's input-rule tests share: the edit endpoints' path, a selection session
opened (with or without a point on the red square), and the check that an answer is the
documented error."""

from __future__ import annotations

import aiohttp

from bot.kling.emulator import KlingEmulator

from .conftest import api, centre, red_box

EDIT = "/v1/videos/multi-elements"


async def open_session(
    http: aiohttp.ClientSession, emulator: KlingEmulator, file_server: str, *, points: bool = True
) -> str:
    status, body = await api(
        http,
        "POST",
        f"{emulator.base_url}{EDIT}/init-selection",
        {"video_url": f"{file_server}/scene.mp4"},
    )
    assert status == 200, body
    session_id = body["data"]["session_id"]
    if points:
        x, y = centre(red_box(0))
        status, body = await api(
            http,
            "POST",
            f"{emulator.base_url}{EDIT}/add-selection",
            {"session_id": session_id, "frame_index": 0, "points": [{"x": x, "y": y}]},
        )
        assert status == 200, body
    return session_id


def assert_error(status: int, body: dict, code: int, *words: str) -> None:
    assert body["code"] == code, body
    assert status == {1200: 400, 1201: 400, 1202: 404, 1203: 404}[code]
    assert body["request_id"]
    for word in words:
        assert word in body["message"], body["message"]
