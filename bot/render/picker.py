"""Draw the zoom picker's image (SPEC §10): the frame, or one cell of it enlarged, with a 5x5 grid.

An enlarged cell is cut from the full-resolution frame (never from the board), so a cell
enlarged five times shows what the video really has there; the whole frame, shrunk to 1024 px
anyway, may come from any copy at least that big (the board's 1280 px frame: no PNG to decode).
Masks and numbered points are drawn as on the board, so after a mark the member sees the object
selected. The grid is made to be read on a phone: lines with a dark edge and a light core, and
every cell's name in its top-left corner in big white letters on a dark box (the cell's centre,
where a point lands, stays clear). At the cell level a small cross marks each sub-cell's centre:
exactly where the second click puts the point.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from bot.grid import BoardGrid, CellRef
from bot.masks import decode_rle
from bot.render.board import (
    ImageFormat,
    MaskInput,
    _draw_caption,
    _draw_points,
    _encode,
    _font,
    display_size,
    paint_masks,
)
from bot.zoom import ZOOM_GRID

__all__ = ["PICKER_LONG_SIDE", "picker_size", "render_picker"]

# Discord shows an image at most ~550 px wide on a desktop and across the screen on a phone; at
# 1024 px a label of a fifth of a cell's height is still ~14 CSS px on a 360 px wide phone.
PICKER_LONG_SIDE = 1024
LINE_DARK = (0, 0, 0, 150)
LINE_LIGHT = (255, 255, 255, 230)
LABEL_BACK = (0, 0, 0, 175)
LABEL_TEXT = (255, 255, 255, 255)
CROSS_DARK = (0, 0, 0, 200)
CROSS_LIGHT = (255, 255, 255, 255)

Region = tuple[float, float, float, float]
WHOLE: Region = (0.0, 0.0, 1.0, 1.0)


def picker_size(width: int, height: int, long_side: int = PICKER_LONG_SIDE) -> tuple[int, int]:
    """The picker image's size for a ``width`` x ``height`` video (the same at both levels: a
    cell has the frame's shape)."""
    return display_size(width, height, long_side)


def _as_image(frame: np.ndarray | Image.Image) -> Image.Image:
    if isinstance(frame, Image.Image):
        return frame if frame.mode == "RGB" else frame.convert("RGB")
    array = np.asarray(frame)
    if array.ndim != 3 or array.shape[2] < 3 or array.dtype != np.uint8:
        raise ValueError(f"frame must be an (h, w, 3) uint8 RGB array, got {array.shape}")
    return Image.fromarray(np.ascontiguousarray(array[:, :, :3]), "RGB")


def _crop_masks(
    masks: Sequence[tuple[int, MaskInput]], region: Region
) -> list[tuple[int, MaskInput]]:
    """Each mask cut to ``region`` (decoded at its own size; painting scales it to the image)."""
    if region == WHOLE:
        return list(masks)
    left, top, right, bottom = region
    cropped: list[tuple[int, MaskInput]] = []
    for object_id, mask in masks:
        array = np.asarray(mask) if isinstance(mask, np.ndarray) else decode_rle(mask)
        h, w = array.shape
        x0, x1 = int(left * w), max(int(left * w) + 1, round(right * w))
        y0, y1 = int(top * h), max(int(top * h) + 1, round(bottom * h))
        cropped.append((object_id, array[y0:y1, x0:x1]))
    return cropped


def _points_in(
    points: Sequence[tuple[int, float, float]], region: Region
) -> list[tuple[int, float, float]]:
    left, top, right, bottom = region
    width, height = right - left, bottom - top
    inside = []
    for number, x, y in points:
        rx, ry = (x - left) / width, (y - top) / height
        if 0.0 <= rx <= 1.0 and 0.0 <= ry <= 1.0:
            inside.append((number, rx, ry))
    return inside


@lru_cache(maxsize=8)
def _grid_overlay(size: tuple[int, int], grid: BoardGrid, *, crosses: bool) -> Image.Image:
    """The grid, labels and crosses on a transparent layer: the same for every frame of a size,
    so it is drawn once and pasted over each picture (a paste is a few times cheaper than the
    25 labels' text and boxes). Shared: never draw on it."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width, height = size
    xs, ys = grid.column_edges(width), grid.row_edges(height)
    line = max(1, round(min(width, height) / 400))
    for x in xs[1:-1]:
        draw.line([(x, 0), (x, height)], fill=LINE_DARK, width=line + 2)
        draw.line([(x, 0), (x, height)], fill=LINE_LIGHT, width=line)
    for y in ys[1:-1]:
        draw.line([(0, y), (width, y)], fill=LINE_DARK, width=line + 2)
        draw.line([(0, y), (width, y)], fill=LINE_LIGHT, width=line)
    cell_short = min(width / grid.columns, height / grid.rows)
    font = _font(max(14, round(cell_short * 0.3)))
    pad = max(3, round(cell_short * 0.05))
    arm = max(4, round(cell_short * 0.06))
    for row in range(grid.rows):
        for column in range(grid.columns):
            name = grid.cell_name(CellRef(column, row))
            corner = (xs[column] + line + pad, ys[row] + line + pad)
            left, top, right, bottom = draw.textbbox(corner, name, font=font, anchor="lt")
            draw.rounded_rectangle(
                (left - pad, top - pad, right + pad, bottom + pad), radius=pad, fill=LABEL_BACK
            )
            draw.text(corner, name, font=font, fill=LABEL_TEXT, anchor="lt")
            if crosses:
                cx, cy = (xs[column] + xs[column + 1]) / 2, (ys[row] + ys[row + 1]) / 2
                for colour, extra in ((CROSS_DARK, 2), (CROSS_LIGHT, 0)):
                    draw.line([(cx - arm, cy), (cx + arm, cy)], fill=colour, width=line + extra)
                    draw.line([(cx, cy - arm), (cx, cy + arm)], fill=colour, width=line + extra)
    return layer


def render_picker(
    frame: np.ndarray | Image.Image,
    masks: Sequence[tuple[int, MaskInput]],
    points: Sequence[tuple[int, float, float]],
    *,
    region: Region = WHOLE,
    caption: str = "",
    grid: BoardGrid = ZOOM_GRID,
    image_format: ImageFormat = "jpeg",
    long_side: int = PICKER_LONG_SIDE,
) -> bytes:
    """The picker image of ``region`` (normalised ``left, top, right, bottom`` of the frame).

    ``frame`` is the RGB frame: full resolution for a cell, at least picker size for the
    whole frame; ``masks`` pair Kling's ``object_id`` with its
    ``rle_mask`` (or a decoded mask of any size) over the whole frame; ``points`` are
    ``(number, x, y)`` in whole-frame coordinates (those outside ``region`` are left out).
    The region is resampled (bicubic) straight from ``frame`` to the picker size.
    """
    image = _as_image(frame)
    width, height = image.size
    size = picker_size(width, height, long_side)
    left, top, right, bottom = region
    if not (0.0 <= left < right <= 1.0 and 0.0 <= top < bottom <= 1.0):
        raise ValueError(f"region {region} is not inside the frame")
    box = (left * width, top * height, right * width, bottom * height)
    picture = image.resize(
        size, Image.Resampling.BICUBIC, box=box, reducing_gap=3.0 if region == WHOLE else None
    )
    paint_masks(picture, _crop_masks(masks, region))
    overlay = _grid_overlay(size, grid, crosses=region != WHOLE)
    picture.paste(overlay, (0, 0), overlay)
    draw = ImageDraw.Draw(picture, "RGBA")
    _draw_points(draw, size, _points_in(points, region))
    _draw_caption(draw, size, caption)
    return _encode(picture, image_format)
