"""What the web picker's page draws: the plain frame (no mask, never redrawn for a mark) and each
object's mask as an overlay cropped to the object, with exactly the board's look; one drawing
serves every page watching, and a mark's answer carries its frame's overlays."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from PIL import Image

from bot.editing.board_cache import board_frame
from bot.editing.boards import drawable_masks, session_dir
from bot.render.board import MASK_FILL_ALPHA, mask_colours, paint_masks
from tests.bot.editing.conftest import BALL, BALL_CENTRE, BALL_RADIUS_PX, HEIGHT, WIDTH
from tests.bot.web.conftest import ALICE, BOB, WebRig

WATCHERS = 5
MEMBERS = [ALICE, BOB] * WATCHERS


async def ask_all(web: WebRig, path: str, members: list[int]) -> list[bytes]:
    """`path` asked for by every member's page at the same time."""
    async with aiohttp.ClientSession() as http:

        async def one(member: int) -> bytes:
            async with http.get(
                web.api(path), headers={"X-Picker-Token": web.token(member)}
            ) as response:
                assert response.status == 200, await response.text()
                return await response.read()

        return list(await asyncio.gather(*(one(m) for m in members)))


async def mark_ball(web: WebRig) -> dict[str, Any]:
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
        answer: dict[str, Any] = await response.json()
    assert web.kling_clicks()[0]  # the mark reached Kling
    return answer


def decoded(overlay: dict[str, Any]) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(overlay["webp"])))
    assert image.format == "WEBP"
    return image.convert("RGBA")


async def test_the_frame_picture_has_no_mask_and_is_drawn_once(web: WebRig) -> None:
    cache = web.picker.pictures.frames
    [first, *others] = await ask_all(web, "api/frame/0", MEMBERS)
    assert set(others) == {first} and cache.drawings == 1  # ten pages at once, one drawing
    picture = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"), dtype=np.float64)
    assert picture.shape == (HEIGHT, WIDTH, 3)
    x, y = round(BALL_CENTRE[0] * WIDTH), round(BALL_CENTRE[1] * HEIGHT)
    assert np.abs(picture[y, x] - BALL).max() < 12  # the ball's own red

    answer = await mark_ball(web)
    assert answer["masks"]["overlays"]  # the ball has a mask now...
    again = await ask_all(web, "api/frame/0", MEMBERS)
    assert set(again) == {first} and cache.drawings == 1  # ...and the frame is as it was


async def test_overlays_are_the_boards_masks_cropped_to_the_object(web: WebRig) -> None:
    answer = await mark_ball(web)
    masks = answer["masks"]
    assert masks["frame"] == 0 and masks["version"] == answer["version"]
    assert (masks["width"], masks["height"]) == (WIDTH, HEIGHT)
    [overlay] = masks["overlays"]
    # Cropped to the ball, with a few pixels of room for the halo.
    left, top, right, bottom = overlay["box"]
    bx, by = BALL_CENTRE[0] * WIDTH, BALL_CENTRE[1] * HEIGHT
    for edge, expected in [
        (left, bx - BALL_RADIUS_PX),
        (top, by - BALL_RADIUS_PX),
        (right, bx + BALL_RADIUS_PX),
        (bottom, by + BALL_RADIUS_PX),
    ]:
        assert abs(edge - expected) <= 10, (overlay["box"], edge, expected)
    layer = decoded(overlay)
    assert layer.size == (right - left, bottom - top)
    alpha = np.asarray(layer)[:, :, 3]
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0  # the box's corners: outside the ball

    # The board's look exactly: the overlays pasted over the frame give the board's masks,
    # the fill in the colour the board chose against this frame.
    session = await web.rig.store.get_session(web.session_id)
    assert session is not None and session.local_path
    cache_dir = session_dir(web.rig.service.media_dir, web.session_id) / "frames"
    frame = Image.fromarray(board_frame(Path(session.local_path), cache_dir, 0))
    stored = await web.rig.store.get_frame_masks(web.session_id, 0)
    pairs = drawable_masks(stored)
    board = frame.copy()
    paint_masks(board, pairs)
    page = frame.copy()
    page.paste(layer, (left, top), layer)
    assert np.array_equal(np.asarray(page), np.asarray(board))
    [colour] = mask_colours(frame, pairs).values()
    centre = np.asarray(layer)[round(by) - top, round(bx) - left]
    assert centre[3] == round(255 * MASK_FILL_ALPHA)
    assert np.abs(centre[:3].astype(int) - colour).max() <= 1


async def test_overlays_are_drawn_once_for_every_page_and_survive_changes_elsewhere(
    web: WebRig,
) -> None:
    cache = web.picker.pictures.overlays
    other = await ask_all(web, "api/masks/3", MEMBERS)
    assert cache.drawings == 1  # ten pages at once, one drawing
    assert {json.dumps(json.loads(o)["overlays"]) for o in other} == {"[]"}

    answer = await mark_ball(web)
    assert cache.drawings == 2  # the mark's answer drew frame 0's

    # Frame 3 did not change: every page that asks again (they all do: the version moved on)
    # gets the same overlays without a new drawing; frame 0's are the mark's, from the cache.
    again = await ask_all(web, "api/masks/3", MEMBERS)
    marked = await ask_all(web, "api/masks/0", MEMBERS)
    assert cache.drawings == 2
    assert {json.loads(o)["overlays"] == [] for o in again} == {True}
    for body in marked:
        found = json.loads(body)
        assert found["overlays"] == answer["masks"]["overlays"]
        assert found["version"] == answer["version"]


async def test_undo_and_clear_answers_carry_the_pages_frame_masks(web: WebRig) -> None:
    await mark_ball(web)
    async with aiohttp.ClientSession() as http:
        web.cooldown_clock.now += 2.0
        async with http.post(
            web.api("api/undo"), json={"frame": 0}, headers={"X-Picker-Token": web.token(BOB)}
        ) as response:
            answer = await response.json()
        assert answer["points"] == [] and answer["masks"]["overlays"] == []
        assert answer["masks"]["frame"] == 0
        # Without a frame, no masks: the page asks for its frame's.
        web.cooldown_clock.now += 2.0
        async with http.post(
            web.api("api/clear"), headers={"X-Picker-Token": web.token(BOB)}
        ) as response:
            assert response.status == 200
            assert "masks" not in await response.json()
