"""The picker image: cut from the full-resolution frame, a readable 5x5 grid, masks and points."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.masks import encode_rle
from bot.render.picker import render_picker

W, H = 1600, 900


def frame() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)  # detail at every pixel


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def test_a_cell_is_the_frames_own_pixels_enlarged() -> None:
    source = frame()
    image = decoded(render_picker(source, [], [], region=(0.6, 0.2, 0.8, 0.4), image_format="png"))
    assert image.shape == (576, 1024, 3)
    expected = np.asarray(
        Image.fromarray(source).resize(
            (1024, 576), Image.Resampling.BICUBIC, box=(960, 180, 1280, 360)
        ),
        dtype=np.int16,
    )
    same = (np.abs(image - expected).max(axis=2) == 0).mean()
    assert same > 0.75, same  # everything but the grid, labels and crosses is the source
    # Another cell's pixels do not match: the region really is the one asked for.
    other = np.asarray(
        Image.fromarray(source).resize(
            (1024, 576), Image.Resampling.BICUBIC, box=(640, 180, 960, 360)
        ),
        dtype=np.int16,
    )
    assert (np.abs(image - other).max(axis=2) == 0).mean() < 0.05


def test_labels_are_big_dark_boxes_with_white_text_in_every_cell() -> None:
    grey = np.full((H, W, 3), 128, dtype=np.uint8)
    image = decoded(render_picker(grey, [], [], image_format="png"))
    cell_w, cell_h = 1024 // 5, 576 // 5
    for row in range(5):
        for column in range(5):
            corner = image[
                row * cell_h + 4 : row * cell_h + 40, column * cell_w + 4 : column * cell_w + 50
            ]
            assert (corner.mean(axis=2) < 60).mean() > 0.3  # the contrast box
            assert (corner.min(axis=2) > 230).sum() > 60  # the letters on it
            centre = image[row * cell_h + cell_h // 2 + 10, column * cell_w + cell_w // 2 + 20]
            assert tuple(centre) == (128, 128, 128)  # the centre stays clear


def test_masks_and_points_follow_the_region() -> None:
    grey = np.full((H, W, 3), 128, dtype=np.uint8)
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[360:540, 640:960] = 1  # exactly cell C3
    rle = encode_rle(mask)
    zoomed = decoded(
        render_picker(
            grey,
            [(1, rle)],
            [(1, 0.5, 0.5), (2, 0.1, 0.1)],
            region=(0.4, 0.4, 0.6, 0.6),
            image_format="png",
        )
    )
    # The whole enlarged cell is inside the mask: tinted away from grey.
    assert np.abs(zoomed[400, 300] - 128).max() > 30
    # Point 1 (the frame's centre) is drawn at the image's centre; point 2 is elsewhere.
    assert tuple(zoomed[288, 512]) != (128, 128, 128)
    whole = decoded(render_picker(grey, [(1, rle)], [], image_format="png"))
    assert np.abs(whole[288 + 20, 512 + 30] - 128).max() > 30  # inside C3
    assert tuple(whole[50 + 20, 700]) == (128, 128, 128)  # far from the mask


def test_a_region_outside_the_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="not inside the frame"):
        render_picker(frame(), [], [], region=(0.8, 0.0, 1.2, 0.2))
