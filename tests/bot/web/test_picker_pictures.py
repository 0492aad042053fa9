"""The web picker's frame pictures: one drawing serves every page watching, a change on one frame
leaves the other frames' pictures as they were, and the marked frame shows its new mask."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image

import bot.web.picture as picture_module
from tests.bot.editing.conftest import BALL_CENTRE
from tests.bot.web.conftest import ALICE, BOB, WebRig

WATCHERS = 5


async def pictures(web: WebRig, frame: int, members: list[int]) -> list[bytes]:
    """The picture of `frame` asked for by every member's page at the same time."""
    async with aiohttp.ClientSession() as http:

        async def one(member: int) -> bytes:
            async with http.get(
                web.api(f"api/frame/{frame}"), headers={"X-Picker-Token": web.token(member)}
            ) as response:
                assert response.status == 200
                assert response.content_type == "image/jpeg"
                return await response.read()

        return list(await asyncio.gather(*(one(m) for m in members)))


def ball_patch(picture: bytes) -> np.ndarray:
    """The mean colour of a patch inside the ball (the object marked below)."""
    image = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB"), dtype=np.float64)
    h, w = image.shape[:2]
    x, y = round(BALL_CENTRE[0] * w), round(BALL_CENTRE[1] * h)
    return np.asarray(image[y - 20 : y + 20, x - 20 : x + 20].reshape(-1, 3).mean(axis=0))


async def test_one_drawing_serves_every_watcher_and_survives_changes_elsewhere(
    web: WebRig,
) -> None:
    members = [ALICE, BOB] * WATCHERS
    cache = web.picker.pictures
    first = await pictures(web, 0, members)
    assert len(set(first)) == 1 and cache.drawings == 1  # ten pages at once, one drawing
    other = await pictures(web, 3, members)
    assert len(set(other)) == 1 and cache.drawings == 2

    x, y = BALL_CENTRE
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            web.api("api/mark"),
            json={"frame": 0, "x": x, "y": y},
            headers={"X-Picker-Token": web.token(ALICE)},
        ) as response,
    ):
        assert response.status == 200
        version = (await response.json())["version"]
    assert web.kling_clicks()[0]  # the mark reached Kling

    # Frame 3 did not change: every page that asks again (they all do: the version moved on)
    # gets the same picture without a new drawing.
    again = await pictures(web, 3, members)
    assert set(again) == set(other)
    # Frame 0 shows its new mask over the ball, drawn once for the mark and all the pages.
    marked = await pictures(web, 0, members)
    assert len(set(marked)) == 1 and cache.drawings == 3
    change = np.abs(ball_patch(marked[0]) - ball_patch(first[0])).sum()
    assert change > 60, change
    # The pictures are asked for with any version: the picture follows the frame's masks.
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            web.api(f"api/frame/0?v={version}"), headers={"X-Picker-Token": web.token(BOB)}
        ) as response,
    ):
        assert await response.read() == marked[0]
    assert cache.drawings == 3


async def test_the_channels_board_waits_for_the_clicking_pages_picture(
    web: WebRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a mark the page's picture is drawn first, then the channel's board: the member at
    the page is the one waiting."""
    release = threading.Event()
    draw = picture_module.render_picture

    def held_render(*args: Any) -> bytes:
        assert release.wait(10), "the picture was never let go"
        return draw(*args)

    monkeypatch.setattr(picture_module, "render_picture", held_render)
    x, y = BALL_CENTRE
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            web.api("api/mark"),
            json={"frame": 0, "x": x, "y": y},
            headers={"X-Picker-Token": web.token(ALICE)},
        ) as response,
    ):
        assert response.status == 200  # answered while the picture is being drawn
    assert web.discord.refreshed == []  # the board waits for it
    release.set()
    await asyncio.wait_for(web.discord.changed.wait(), 10)
    assert web.discord.refreshed == [web.session_id]
    assert web.picker.pictures.drawings == 1
