"""Draw the board image (SPEC §3): frame, object masks, numbered points, labelled grid, caption.

Everything is done at display size (longest side about 1280 px). The frame is shrunk first, with
an integer box reduction when it is at least twice too big (fast and anti-aliased), and masks
are decoded straight to display size from their RLE, so a 4K board never touches a 4K mask.

Default output is JPEG at quality 90 without chroma subsampling: a 1280 px frame is ~150-300 KB
and encodes in a few milliseconds, where PNG of the same frame is 1-2 MB and takes 50-400 ms,
so Discord shows it sooner; 4:4:4 chroma keeps the coloured outlines and the small label text
crisp. PNG is available (and used by the tests) when exact pixels matter.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bot.grid import BoardGrid
from bot.masks import decode_rle_scaled, dilate
from bot.render.colours import MASK_COLOURS, RGB, contrast_colour, mask_colour

__all__ = [
    "BOARD_LONG_SIDE",
    "IMAGE_MEDIA_TYPES",
    "MASK_COLOURS",
    "POINT_FILL",
    "ImageFormat",
    "MaskLayer",
    "display_size",
    "mask_colour",
    "mask_colours",
    "mask_layers",
    "paint_masks",
    "render_board",
    "shrink_frame",
]

ImageFormat = Literal["jpeg", "png", "webp"]
IMAGE_MEDIA_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

BOARD_LONG_SIDE = 1280
MASK_FILL_ALPHA = 0.50
MASK_OUTLINE_PX = 3
# Pixels under a mask that its colour is chosen from.
SAMPLES_PER_OBJECT = 1024
# Room around a mask's bounding box for the halo rings and the soft edge's reach.
EDGE_ROOM_PX = 2 + 2
# Just outside each outline: a light ring, then a dark one, so a mask stays visible over an
# object of its own colour and over both light and dark backgrounds.
HALO_COLOURS: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (16, 16, 16))
POINT_FILL = (255, 255, 255)
POINT_RING = (0, 0, 0)
GRID_LINE_RGBA = (255, 255, 255, 90)
LABEL_TEXT_RGBA = (255, 255, 255, 235)
LABEL_BACK_RGBA = (0, 0, 0, 120)

MaskInput = Mapping[str, Any] | np.ndarray


def display_size(width: int, height: int, long_side: int = BOARD_LONG_SIDE) -> tuple[int, int]:
    """Board size for a frame of ``width`` x ``height``: the longest side becomes ``long_side``."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):  # Pillow built without FreeType
        return ImageFont.load_default()


def shrink_frame(frame: np.ndarray | Image.Image, size: tuple[int, int]) -> Image.Image:
    """``frame`` at ``size``: an integer box reduction when it is at least twice too big, then a
    bilinear resize for what is left. The caller's image is returned as is when already there."""
    if isinstance(frame, Image.Image):
        image = frame if frame.mode == "RGB" else frame.convert("RGB")
    else:
        array = np.asarray(frame)
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint8:
            raise ValueError(f"frame must be an (h, w, 3) uint8 RGB array, got {array.shape}")
        image = Image.fromarray(np.ascontiguousarray(array[:, :, :3]), "RGB")
    if image.size == size:
        return image
    factor = min(image.width // size[0], image.height // size[1])
    if factor >= 2:
        image = image.reduce(factor)
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image


def _scale_mask(mask: MaskInput, size: tuple[int, int]) -> np.ndarray:
    out_w, out_h = size
    if isinstance(mask, Mapping):
        decoded: np.ndarray = decode_rle_scaled(mask, out_w, out_h).astype(bool)
        return decoded
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a decoded mask must be 2-D (h, w), got shape {array.shape}")
    h, w = array.shape
    if (w, h) == size:
        nonzero: np.ndarray = array != 0
        return nonzero
    ys = np.minimum(((np.arange(out_h) + 0.5) * (h / out_h)).astype(np.intp), h - 1)
    xs = np.minimum(((np.arange(out_w) + 0.5) * (w / out_w)).astype(np.intp), w - 1)
    sampled: np.ndarray = array[ys[:, None], xs[None, :]] != 0
    return sampled


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    return ~dilate(~mask, steps)


_LEVEL_STEP = 63  # 4 levels fit in a byte
# A 3x3 binomial blur (about a Gaussian of 0.7 px) of the layer levels below.
_SOFTEN = ImageFilter.Kernel((3, 3), (1, 2, 1, 2, 4, 2, 1, 2, 1), 16)


@lru_cache(maxsize=64)
def _one_pass(colour: RGB) -> tuple[list[int], list[int]]:
    """The four layers of an object in ``colour`` as one paint: for each value of the blurred
    level map, the RGB palette entry and the alpha (0-255) that give, pasted once over the
    frame, what the four layers pasted one after the other would.

    Each layer is drawn from its level on (transparent a level below, opaque at the level,
    linear in between: ``a``). Every layer is linear in the frame (the fill is the frame tinted
    halfway to ``colour``), so after all of them the frame is ``frame * keep + paint``; pasting
    ``paint / (1 - keep)`` with alpha ``1 - keep`` is the same.
    """
    palette: list[int] = []
    alphas: list[int] = []
    # (colour, how much of it): the fill is the frame itself, tinted MASK_FILL_ALPHA of the way.
    layers: tuple[tuple[RGB, float], ...] = (
        (HALO_COLOURS[1], 1.0),
        (HALO_COLOURS[0], 1.0),
        (colour, 1.0),
        (colour, MASK_FILL_ALPHA),
    )
    for value in range(256):
        keep, paint = 1.0, [0.0, 0.0, 0.0]
        for level, (rgb, strength) in enumerate(layers, start=1):
            a = min(max(value / _LEVEL_STEP - level + 1, 0.0), 1.0)
            # Over what is there, this layer puts frame * (1 - strength) + rgb * strength.
            keep = keep * (1.0 - a) + (1.0 - strength) * a
            paint = [p * (1.0 - a) + c * strength * a for p, c in zip(paint, rgb, strict=True)]
        alpha = 1.0 - keep
        palette += [min(255, round(p / alpha)) if alpha > 0 else 0 for p in paint]
        alphas.append(round(255 * alpha))
    return palette, alphas


@dataclass(frozen=True)
class _Object:
    object_id: int
    box: tuple[int, int, int, int]  # the mask's bounding box grown by EDGE_ROOM_PX, clipped
    region: np.ndarray  # the display-size mask inside ``box``


def _locate(size: tuple[int, int], masks: Sequence[tuple[int, MaskInput]]) -> list[_Object]:
    width, height = size
    found: list[_Object] = []
    for object_id, mask in masks:
        selected = _scale_mask(mask, size)
        rows = np.flatnonzero(selected.any(axis=1))
        if rows.size == 0:
            continue
        columns = np.flatnonzero(selected.any(axis=0))
        # Work inside the object's bounding box: objects rarely cover the whole frame.
        top, bottom = (
            max(int(rows[0]) - EDGE_ROOM_PX, 0),
            min(int(rows[-1]) + 1 + EDGE_ROOM_PX, height),
        )
        left = max(int(columns[0]) - EDGE_ROOM_PX, 0)
        right = min(int(columns[-1]) + 1 + EDGE_ROOM_PX, width)
        found.append(
            _Object(object_id, (left, top, right, bottom), selected[top:bottom, left:right])
        )
    return found


def _choose_colours(image: Image.Image, objects: Sequence[_Object]) -> dict[int, RGB]:
    colours: dict[int, RGB] = {}
    for obj in sorted(objects, key=lambda o: o.object_id):
        # A regular grid of about SAMPLES_PER_OBJECT pixels: big objects cost what small ones do.
        step = max(1, math.isqrt(int(np.count_nonzero(obj.region)) // SAMPLES_PER_OBJECT))
        crop = np.asarray(image.crop(obj.box))
        under = crop[::step, ::step][obj.region[::step, ::step]]
        colours[obj.object_id] = contrast_colour(
            under, colours.values(), mask_colour(obj.object_id)
        )
    return colours


def mask_colours(image: Image.Image, masks: Sequence[tuple[int, MaskInput]]) -> dict[int, RGB]:
    """The colour :func:`paint_masks` gives each object drawn over ``image``, by object id."""
    return _choose_colours(image, _locate(image.size, masks))


@dataclass(frozen=True)
class MaskLayer:
    """One object's mask as a transparent picture: what :func:`paint_masks` pastes at ``box``
    (left, top, right, bottom in the image's pixels), and what the web picker's page draws
    over its plain frame."""

    object_id: int
    box: tuple[int, int, int, int]
    image: Image.Image  # "RGBA", the size of ``box``


def _layer(obj: _Object, colour: RGB) -> MaskLayer:
    """Concentric layers, outermost first: the dark ring, the light ring, the solid outline,
    then the tinted frame inside the outline, each over the ones before.

    Each layer's silhouette is a ``level`` (0 outside everything, 4 inside the fill); one blur
    of the level map gives every boundary the same soft, anti-aliased edge, and lookup tables
    turn it into one colour and one alpha for all four layers: one picture, all in C.
    """
    light = dilate(obj.region)
    levels = dilate(light).view(np.uint8) + light.view(np.uint8) + obj.region.view(np.uint8)
    levels += _erode(obj.region, MASK_OUTLINE_PX).view(np.uint8)
    levels *= np.uint8(_LEVEL_STEP)
    soft = Image.fromarray(levels, "L").filter(_SOFTEN)
    palette, alphas = _one_pass(colour)
    paint = soft.copy()
    paint.putpalette(palette)  # "L" becomes "P": the level values index the palette
    layer = paint.convert("RGBA")
    layer.putalpha(soft.point(alphas))
    return MaskLayer(obj.object_id, obj.box, layer)


def mask_layers(image: Image.Image, masks: Sequence[tuple[int, MaskInput]]) -> list[MaskLayer]:
    """Each object's mask over ``image`` as a :class:`MaskLayer`, in drawing order: translucent
    fill, outline, halo, cropped to the object.

    ``masks`` pairs an ``object_id`` with an ``rle_mask`` mapping or a decoded (h, w) mask of
    any size; masks are scaled to the image. Colours are chosen (see :mod:`bot.render.colours`)
    from the image as it is, before any mask is drawn, so the layers pasted one after the other
    over it give the board.
    """
    objects = _locate(image.size, masks)
    colours = _choose_colours(image, objects)
    return [_layer(obj, colours[obj.object_id]) for obj in objects]


def paint_masks(image: Image.Image, masks: Sequence[tuple[int, MaskInput]]) -> None:
    """Draw each object's mask onto ``image`` in place (the layers of :func:`mask_layers`)."""
    for layer in mask_layers(image, masks):
        image.paste(layer.image, layer.box, layer.image)


def _label(
    draw: ImageDraw.ImageDraw,
    centre: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    left, top, right, bottom = draw.textbbox(centre, text, font=font, anchor="mm")
    pad = 3
    draw.rounded_rectangle(
        (left - pad, top - pad, right + pad, bottom + pad), radius=4, fill=LABEL_BACK_RGBA
    )
    draw.text(centre, text, font=font, fill=LABEL_TEXT_RGBA, anchor="mm")


def _draw_grid(draw: ImageDraw.ImageDraw, size: tuple[int, int], grid: BoardGrid) -> None:
    width, height = size
    xs, ys = grid.column_edges(width), grid.row_edges(height)
    for x in xs[1:-1]:
        draw.line([(x, 0), (x, height - 1)], fill=GRID_LINE_RGBA, width=1)
    for y in ys[1:-1]:
        draw.line([(0, y), (width - 1, y)], fill=GRID_LINE_RGBA, width=1)
    font = _font(max(12, round(min(width, height) / 34)))
    label_inset = max(12, round(min(width, height) / 45))
    for column in range(grid.columns):
        centre_x = (xs[column] + xs[column + 1]) / 2
        _label(draw, (centre_x, label_inset), grid.column_label(column), font)
    for row in range(grid.rows):
        centre_y = (ys[row] + ys[row + 1]) / 2
        _label(draw, (label_inset, centre_y), grid.row_label(row), font)


def _draw_points(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], points: Sequence[tuple[int, float, float]]
) -> None:
    width, height = size
    radius = max(9, round(min(width, height) / 45))
    font = _font(max(10, round(radius * 1.2)))
    for number, x, y in points:
        cx, cy = x * width, y * height
        draw.ellipse(
            (cx - radius, cy - radius, cx + radius, cy + radius),
            fill=(*POINT_FILL, 255),
            outline=(*POINT_RING, 255),
            width=max(2, radius // 5),
        )
        draw.text((cx, cy), str(number), font=font, fill=(*POINT_RING, 255), anchor="mm")


def _draw_caption(draw: ImageDraw.ImageDraw, size: tuple[int, int], caption: str) -> None:
    if not caption:
        return
    width, height = size
    font = _font(max(12, round(min(width, height) / 36)))
    margin = max(8, round(min(width, height) / 60))
    left, top, right, bottom = draw.textbbox((0, 0), caption, font=font, anchor="rb")
    anchor_xy = (width - margin - 4, height - margin - 4)
    box = (
        anchor_xy[0] + left - 6,
        anchor_xy[1] + top - 4,
        anchor_xy[0] + right + 6,
        anchor_xy[1] + bottom + 4,
    )
    draw.rounded_rectangle(box, radius=5, fill=(0, 0, 0, 150))
    draw.text(anchor_xy, caption, font=font, fill=(255, 255, 255, 255), anchor="rb")


def _encode(image: Image.Image, image_format: ImageFormat) -> bytes:
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, format="JPEG", quality=90, subsampling=0, optimize=False)
    elif image_format == "png":
        # Level 1 is ~7x faster than the default 6 for ~15% more bytes on a video frame.
        image.save(buffer, format="PNG", compress_level=1)
    elif image_format == "webp":
        image.save(buffer, format="WEBP", quality=85, method=0)
    else:
        raise ValueError(f"unknown board image format {image_format!r}")
    return buffer.getvalue()


def render_board(
    frame: np.ndarray | Image.Image,
    masks: Sequence[tuple[int, MaskInput]],
    points: Sequence[tuple[int, float, float]],
    grid: BoardGrid,
    caption: str = "",
    *,
    image_format: ImageFormat = "jpeg",
    long_side: int = BOARD_LONG_SIDE,
) -> bytes:
    """Draw the board and return the encoded image (see :data:`IMAGE_MEDIA_TYPES`).

    ``frame`` is an RGB ``(h, w, 3)`` uint8 array or a PIL image at video resolution.
    ``masks`` pairs Kling's ``object_id`` with its ``rle_mask`` mapping or a decoded (h, w)
    mask. ``points`` are ``(number, x, y)`` with normalised x, y. ``grid`` must be the same
    :class:`BoardGrid` the points parser uses.
    """
    if isinstance(frame, Image.Image):
        source_w, source_h = frame.size
    else:
        source_h, source_w = np.asarray(frame).shape[:2]
    size = display_size(source_w, source_h, long_side)
    board = shrink_frame(frame, size)
    if board is frame:
        board = board.copy()  # never draw on the caller's image
    paint_masks(board, masks)
    # An "RGBA" draw on an RGB image blends translucent fills straight into it, with no
    # overlay image to allocate and composite.
    draw = ImageDraw.Draw(board, "RGBA")
    _draw_grid(draw, size, grid)
    _draw_points(draw, size, points)
    _draw_caption(draw, size, caption)
    return _encode(board, image_format)
