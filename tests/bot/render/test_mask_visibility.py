"""Masks stand out on the board whatever the object's colour, with anti-aliased edges.

Everything is measured on the rendered PNG's pixels against the same frame rendered without
masks, so the tests see what a member sees.
"""

from __future__ import annotations

import colorsys
import io

import numpy as np
import pytest
from PIL import Image

from bot.grid import BoardGrid
from bot.masks import decode_rle_scaled, encode_rle
from bot.render import render_board

VIDEO_W, VIDEO_H = 1920, 1080
BOARD_W, BOARD_H = 1280, 720
RED, WHITE, BLACK, GREEN = (220, 30, 30), (250, 250, 250), (12, 12, 12), (40, 200, 70)
# Each object gets the object_id whose fixed colour used to match it (red for 0, green for 2):
# the worst case for a renderer that colours by id alone.
OBJECTS = {"red": (RED, 0), "white": (WHITE, 1), "black": (BLACK, 3), "green": (GREEN, 2)}
# A 40% tint (the board's fill) of a colour that differs from the object by half the RGB cube's
# diagonal (~220 units) moves every pixel by ~88 units. 60 is about a quarter of black-to-white
# on every channel: unmistakable at a glance (CIE76 ~25+, where ~2.3 is just noticeable). An
# object tinted with its own hue moves by far less (the red ball with red: ~25 units).
VISIBLE_RGB_DISTANCE = 60.0


def open_board(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).astype(float)


def backdrop() -> np.ndarray:
    """A daylight-like gradient with mild grain, like a real frame rather than a flat fill."""
    yy, xx = np.mgrid[0:VIDEO_H, 0:VIDEO_W].astype(np.float32)
    frame = np.stack(
        [90 + 60 * xx / VIDEO_W, 120 + 50 * yy / VIDEO_H, 150 - 40 * xx / VIDEO_W], axis=-1
    )
    frame += np.random.default_rng(7).normal(0, 2.0, frame.shape).astype(np.float32)
    return frame


def disc(cx: int, cy: int, radius: int) -> np.ndarray:
    yy, xx = np.ogrid[:VIDEO_H, :VIDEO_W]
    return ((xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2).astype(np.uint8)


def paint_ball(frame: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int]) -> None:
    """A shaded ball: lighter towards the top left, as a lit object is."""
    yy, xx = np.nonzero(mask)
    shade = 1.0 + 0.12 * ((xx.max() - xx) / np.ptp(xx) - 0.5) - 0.1 * ((yy - yy.min()) / np.ptp(yy))
    frame[yy, xx] = np.asarray(colour, dtype=np.float32) * shade[:, None]


def as_uint8(frame: np.ndarray) -> np.ndarray:
    return np.clip(frame, 0, 255).astype(np.uint8)


def grid() -> BoardGrid:
    return BoardGrid.for_frame(VIDEO_W, VIDEO_H)


def board_mask(rle: dict[str, object]) -> np.ndarray:
    return decode_rle_scaled(rle, BOARD_W, BOARD_H).astype(bool)


def rgb_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a - b) ** 2).sum(axis=-1))


def hue_degrees(rgb: np.ndarray) -> float:
    r, g, b = (float(c) / 255 for c in np.clip(rgb, 0, 255))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def hue_distance(a: float, b: float) -> float:
    return min(abs(a - b), 360 - abs(a - b))


def shrink(mask: np.ndarray, steps: int) -> np.ndarray:
    inner = mask.copy()
    for _ in range(steps):
        inner[1:-1, 1:-1] &= inner[:-2, 1:-1] & inner[2:, 1:-1] & inner[1:-1, :-2] & inner[1:-1, 2:]
        inner[[0, -1], :] = False
        inner[:, [0, -1]] = False
    return inner


@pytest.mark.parametrize("name", list(OBJECTS))
def test_a_mask_is_clearly_visible_over_an_object_of_any_colour(name: str) -> None:
    colour, object_id = OBJECTS[name]
    frame = backdrop()
    mask = disc(1100, 560, 260)
    paint_ball(frame, mask, colour)
    pixels = as_uint8(frame)
    rle = encode_rle(mask)
    bare = open_board(render_board(pixels, [], [], grid(), image_format="png"))
    marked = open_board(render_board(pixels, [(object_id, rle)], [], grid(), image_format="png"))
    inside = board_mask(rle)
    change = rgb_distance(marked, bare)[inside]
    assert change.mean() >= VISIBLE_RGB_DISTANCE, (name, round(float(change.mean()), 1))
    # Not just the outline: the fill alone changes most of the object visibly.
    assert np.median(change) >= VISIBLE_RGB_DISTANCE * 0.8, (name, float(np.median(change)))


def tint_colour(marked: np.ndarray, bare: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The colour laid over the object, recovered from its translucent fill.

    board = (1 - a) * frame + a * colour; with a = 0.4, colour = (board - 0.6 * frame) / 0.4.
    The median ignores the faint grid lines drawn over the fill.
    """
    core = shrink(inside, 8)
    recovered = (marked[core] - 0.6 * bare[core]) / 0.4
    return np.median(recovered, axis=0)


def test_the_red_ball_gets_a_colour_far_from_red_and_every_object_its_own() -> None:
    frame = backdrop()
    centres = {"red": (400, 330), "white": (1500, 330), "black": (400, 800), "green": (1500, 800)}
    masks: dict[str, np.ndarray] = {}
    for name, (cx, cy) in centres.items():
        masks[name] = disc(cx, cy, 170)
        paint_ball(frame, masks[name], OBJECTS[name][0])
    pixels = as_uint8(frame)
    rles = {name: encode_rle(mask) for name, mask in masks.items()}
    bare = open_board(render_board(pixels, [], [], grid(), image_format="png"))
    marked = open_board(
        render_board(
            pixels,
            [(OBJECTS[name][1], rles[name]) for name in OBJECTS],
            [],
            grid(),
            image_format="png",
        )
    )
    tints = {name: tint_colour(marked, bare, board_mask(rles[name])) for name in OBJECTS}
    red_tint_hue = hue_degrees(tints["red"])
    assert hue_distance(red_tint_hue, hue_degrees(np.array(RED))) >= 60, tints["red"]
    green_tint_hue = hue_degrees(tints["green"])
    assert hue_distance(green_tint_hue, hue_degrees(np.array(GREEN))) >= 60, tints["green"]
    for name in OBJECTS:
        inside = board_mask(rles[name])
        change = rgb_distance(marked, bare)[inside].mean()
        assert change >= VISIBLE_RGB_DISTANCE, (name, round(float(change), 1))
    # Four objects, four different colours.
    names = list(OBJECTS)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert rgb_distance(tints[first], tints[second]) > 60, (first, second, tints)


def mixes(pixels: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each pixel, how far it lies from colour ``a`` towards ``b`` (0 = a, 1 = b), or NaN
    when it is not a blend of the two."""
    span = b - a
    t = ((pixels - a) @ span) / float(span @ span)
    off_line = rgb_distance(pixels, a + t[:, None] * span)
    return np.where(off_line < 10, t, np.nan)


def test_mask_edges_are_anti_aliased() -> None:
    grey = np.array([128.0, 128.0, 128.0])
    frame = np.full((VIDEO_H, VIDEO_W, 3), 128, dtype=np.uint8)
    radius_src = 300
    mask = disc(960, 540, radius_src)
    rle = encode_rle(mask)
    board = open_board(render_board(frame, [(0, rle)], [], grid(), image_format="png"))
    yy, xx = np.mgrid[0:BOARD_H, 0:BOARD_W]
    r = np.hypot(xx + 0.5 - BOARD_W / 2, yy + 0.5 - BOARD_H / 2)
    radius = radius_src * BOARD_W / VIDEO_W
    # Away from the grid lines and labels: sample the circle's outer rim, where the halo's dark
    # ring meets the untouched grey frame. A hard-edged ring gives only pure dark or pure grey.
    rim = (r > radius + 1.0) & (r < radius + 4.5)
    darkest = board[rim].min(axis=0)
    assert darkest.max() < 60, darkest  # the dark ring is there
    t = mixes(board[rim], grey, darkest)
    partial = np.isfinite(t) & (t > 0.15) & (t < 0.85)
    perimeter = 2 * np.pi * radius
    assert partial.sum() > 0.5 * perimeter, (int(partial.sum()), round(perimeter))
    # And inside, where the solid outline meets the tinted fill, blends again.
    inside_band = (r > radius - 6) & (r < radius - 1.0)
    outline = board[(r > radius - 1.5) & (r < radius - 0.5)]
    colour = np.median(outline, axis=0)
    fill = np.median(board[r < radius - 10], axis=0)
    assert rgb_distance(colour, fill) > 40, (colour, fill)
    t = mixes(board[inside_band], fill, colour)
    partial = np.isfinite(t) & (t > 0.15) & (t < 0.85)
    assert partial.sum() > 0.5 * perimeter, (int(partial.sum()), round(perimeter))


def test_colours_depend_on_the_pixels_not_on_the_order_masks_arrive_in() -> None:
    frame = backdrop()
    ball, other = disc(500, 500, 150), disc(1400, 500, 150)
    paint_ball(frame, ball, RED)
    paint_ball(frame, other, GREEN)
    pixels = as_uint8(frame)
    pairs = [(0, encode_rle(ball)), (2, encode_rle(other))]  # the ids once coloured red, green
    first = render_board(pixels, pairs, [], grid(), image_format="png")
    again = render_board(pixels, pairs[::-1], [], grid(), image_format="png")
    assert first == again  # a redraw of the same frame looks the same
    # Swap the objects' colours in the frame: the masks' colours follow the pixels.
    swapped = backdrop()
    paint_ball(swapped, ball, GREEN)
    paint_ball(swapped, other, RED)
    bare = open_board(render_board(pixels, [], [], grid(), image_format="png"))
    marked = open_board(first)
    bare_swapped = open_board(render_board(as_uint8(swapped), [], [], grid(), image_format="png"))
    marked_swapped = open_board(
        render_board(as_uint8(swapped), pairs, [], grid(), image_format="png")
    )
    rle_ball = pairs[0][1]
    for board, plain in ((marked, bare), (marked_swapped, bare_swapped)):
        change = rgb_distance(board, plain)[board_mask(rle_ball)].mean()
        assert change >= VISIBLE_RGB_DISTANCE, round(float(change), 1)
    tint = tint_colour(marked, bare, board_mask(rle_ball))
    tint_swapped = tint_colour(marked_swapped, bare_swapped, board_mask(rle_ball))
    assert hue_distance(hue_degrees(tint), hue_degrees(np.array(RED))) >= 60, tint
    assert hue_distance(hue_degrees(tint_swapped), hue_degrees(np.array(GREEN))) >= 60
