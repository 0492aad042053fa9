"""Masks drawn in pieces (the edge band drawn pixel by pixel, plain inside and outside filled)
give exactly the pixels of drawing each object's whole box."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bot.grid import BoardGrid
from bot.render import mask_paint, render_board
from bot.render.mask_paint import mask_layers, paint_masks

WIDTH, HEIGHT = 1280, 720
SQUARE = (slice(250, 490), slice(520, 760))


def noisy_frame(seed: int = 3) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))


def background_around_square() -> np.ndarray:
    """What a click on the background gives: everything but the object in the middle."""
    mask = np.ones((HEIGHT, WIDTH), dtype=bool)
    mask[SQUARE] = False
    return mask


def blobs(seed: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    for _ in range(count):
        x, y, r = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT), rng.uniform(2, 260)
        mask |= (xs - x) ** 2 + (ys - y) ** 2 < r * r
    return mask


def frame_with_a_notch() -> np.ndarray:
    """Plain inside up to the frame's edges, one notch, and a one-pixel hole far from it."""
    mask = np.ones((HEIGHT, WIDTH), dtype=bool)
    mask[:40, 600:633] = False
    mask[700, 5] = False
    return mask


MASKS = {
    "background": background_around_square,
    "frame with a notch": frame_with_a_notch,
    "big blobs": lambda: blobs(1, 3),
    "many blobs": lambda: blobs(2, 40),
    "stripes": lambda: (np.arange(HEIGHT)[:, None] // 37 % 2 == 0) & np.ones(WIDTH, bool),
}


def whole_box_layer(image: Image.Image, mask: np.ndarray) -> Image.Image:
    """The layer drawn the plain way: every pixel of the object's box, with no pieces."""
    (obj,) = mask_paint._locate(image.size, [(1, mask)])
    colour = mask_paint._choose_colours(image, [obj])[1]
    return mask_paint._paint(obj.region, colour)


@pytest.mark.parametrize("name", sorted(MASKS))
def test_pieces_draw_the_same_pixels_as_the_whole_box(name: str) -> None:
    frame, mask = noisy_frame(), MASKS[name]()
    expected = whole_box_layer(frame, mask)
    (layer,) = mask_layers(frame, [(1, mask)])
    assert layer.image.size == expected.size
    assert np.array_equal(np.asarray(layer.image), np.asarray(expected))
    painted, by_layer = frame.copy(), frame.copy()
    paint_masks(painted, [(1, mask)])
    by_layer.paste(expected, layer.box, expected)
    assert np.array_equal(np.asarray(painted), np.asarray(by_layer))


def test_a_background_mask_is_drawn_in_pieces_that_cover_a_fraction_of_the_frame() -> None:
    (obj,) = mask_paint._locate((WIDTH, HEIGHT), [(1, background_around_square())])
    bands = mask_paint._bands(obj.region)
    assert bands is not None
    drawn = sum((bottom - top) * (right - left) for top, bottom, left, right in bands)
    # The square's edges and a few pixels around them, not the frame.
    assert drawn < 0.15 * WIDTH * HEIGHT


def test_a_background_mask_tints_the_background_and_leaves_the_object_alone() -> None:
    frame = Image.new("RGB", (WIDTH, HEIGHT), (40, 60, 110))
    frame.paste((50, 190, 70), (520, 250, 760, 490))
    painted = frame.copy()
    paint_masks(painted, [(1, background_around_square())])
    before, after = np.asarray(frame).astype(int), np.asarray(painted).astype(int)
    # Far inside the mask (top-left corner, beside the square): tinted, all the same colour.
    tinted = after[20:200, 20:480]
    assert np.abs(tinted - before[20:200, 20:480]).sum(axis=2).min() > 30
    assert len(np.unique(tinted.reshape(-1, 3), axis=0)) == 1
    # The square, away from its outline, is untouched.
    assert np.array_equal(after[270:470, 540:740], before[270:470, 540:740])
    # Its border carries the outline and rings: not the tint, not the frame.
    edge_row = after[370, 505:525]
    assert (np.abs(edge_row - tinted[0, 0]).sum(axis=1) > 30).any()


def test_a_board_size_frame_array_draws_the_board_a_picture_of_it_draws() -> None:
    """The board samples mask colours from the array (no copy out of Pillow): same board."""
    pixels = np.asarray(noisy_frame(5))
    masks = [(1, background_around_square()), (2, blobs(4, 6))]
    from_array = render_board(pixels, masks, [(1, 0.5, 0.5)], BoardGrid(10, 6), image_format="png")
    from_picture = render_board(
        Image.fromarray(pixels), masks, [(1, 0.5, 0.5)], BoardGrid(10, 6), image_format="png"
    )
    assert from_array == from_picture
    assert np.array_equal(pixels, np.asarray(noisy_frame(5)))  # the caller's frame is untouched
