"""Object masks drawn over a picture (SPEC §3): a translucent fill in a colour chosen against the
picture, a solid outline, and a light then a dark ring just outside it. The board, the zoom
picker and the web picker's overlays all draw masks through here.

An object is drawn in pieces. Only the band along a mask's edges needs the soft edge and the
per-pixel colour lookup; further inside every pixel gets the same tint, and further out nothing
changes. A mask that covers most of the frame (a click on the background) then costs about what
its edges cost, not its area.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from bot.masks import decode_rle_scaled, dilate
from bot.render.colours import RGB, contrast_colour, mask_colour

__all__ = [
    "EDGE_ROOM_PX",
    "HALO_COLOURS",
    "MASK_FILL_ALPHA",
    "MASK_OUTLINE_PX",
    "MaskInput",
    "MaskLayer",
    "mask_colours",
    "mask_layers",
    "paint_masks",
]

MaskInput = Mapping[str, Any] | np.ndarray

MASK_FILL_ALPHA = 0.50
MASK_OUTLINE_PX = 3
# Pixels under a mask that its colour is chosen from.
SAMPLES_PER_OBJECT = 1024
# Room around a mask's bounding box for the halo rings and the soft edge's reach.
EDGE_ROOM_PX = 2 + 2
# Just outside each outline: a light ring, then a dark one, so a mask stays visible over an
# object of its own colour and over both light and dark backgrounds.
HALO_COLOURS: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (16, 16, 16))

_LEVEL_STEP = 63  # 4 levels fit in a byte
_INSIDE = 4 * _LEVEL_STEP
# A 3x3 binomial blur (about a Gaussian of 0.7 px) of the layer levels below.
_SOFTEN = ImageFilter.Kernel((3, 3), (1, 2, 1, 2, 4, 2, 1, 2, 1), 16)
# How far a mask's edge changes the drawing: the outline is 3 px in and the rings 2 px out,
# and the soft edge adds 1. A pixel with no edge this close is plain inside or plain outside.
_EDGE_REACH_PX = MASK_OUTLINE_PX + 1 + 2
# The edge band is worked on in bands of rows this tall, each with this much extra room around
# it so the erosion, dilation and blur at its borders match those of the whole mask.
_BAND_ROWS = 32
_BAND_ROOM_PX = 8
# Past this share of the box in edge bands, drawing the box whole is cheaper than the pieces.
_PIECES_WORTH_IT = 0.6


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


def _inside_rgba(colour: RGB) -> tuple[int, int, int, int]:
    """The one colour and alpha of every pixel well inside an object."""
    palette, alphas = _one_pass(colour)
    red, green, blue = palette[3 * _INSIDE : 3 * _INSIDE + 3]
    return red, green, blue, alphas[_INSIDE]


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


def _box_area(box: tuple[int, int, int, int]) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _choose_colours(
    image: Image.Image, objects: Sequence[_Object], pixels: np.ndarray | None = None
) -> dict[int, RGB]:
    # Copying the picture out of Pillow costs as much as copying its crops, so when the
    # objects cover more than the picture between them it is copied once.
    whole = (
        np.asarray(image)
        if pixels is None
        and sum(_box_area(obj.box) for obj in objects) > image.width * image.height
        else pixels
    )
    colours: dict[int, RGB] = {}
    for obj in sorted(objects, key=lambda o: o.object_id):
        # A regular grid of about SAMPLES_PER_OBJECT pixels: big objects cost what small ones do.
        step = max(1, math.isqrt(int(np.count_nonzero(obj.region)) // SAMPLES_PER_OBJECT))
        left, top, right, bottom = obj.box
        crop = (
            whole[top:bottom, left:right] if whole is not None else np.asarray(image.crop(obj.box))
        )
        under = crop[::step, ::step][obj.region[::step, ::step]]
        colours[obj.object_id] = contrast_colour(
            under, colours.values(), mask_colour(obj.object_id)
        )
    return colours


def mask_colours(image: Image.Image, masks: Sequence[tuple[int, MaskInput]]) -> dict[int, RGB]:
    """The colour :func:`paint_masks` gives each object drawn over ``image``, by object id."""
    return _choose_colours(image, _locate(image.size, masks))


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    return ~dilate(~mask, steps)


def _paint(region: np.ndarray, colour: RGB) -> Image.Image:
    """Concentric layers, outermost first: the dark ring, the light ring, the solid outline,
    then the tinted frame inside the outline, each over the ones before.

    Each layer's silhouette is a ``level`` (0 outside everything, 4 inside the fill); one blur
    of the level map gives every boundary the same soft, anti-aliased edge, and lookup tables
    turn it into one colour and one alpha for all four layers: one picture, all in C.
    """
    light = dilate(region)
    levels = dilate(light).view(np.uint8) + light.view(np.uint8) + region.view(np.uint8)
    levels += _erode(region, MASK_OUTLINE_PX).view(np.uint8)
    levels *= np.uint8(_LEVEL_STEP)
    soft = Image.fromarray(levels, "L").filter(_SOFTEN)
    palette, alphas = _one_pass(colour)
    paint = soft.copy()
    paint.putpalette(palette)  # "L" becomes "P": the level values index the palette
    layer = paint.convert("RGBA")
    layer.putalpha(soft.point(alphas))
    return layer


# A piece of an object's drawing: its box inside the object's box, and either the drawing of
# an edge band or None for plain inside (every pixel the inside colour).
_Piece = tuple[tuple[int, int, int, int], Image.Image | None]


def _edge_columns(region: np.ndarray) -> np.ndarray:
    """For each band of rows, the columns with an edge of the mask in or next to the band."""
    height, width = region.shape
    edges = np.zeros((-(-height // _BAND_ROWS) * _BAND_ROWS, width), dtype=bool)
    across = region[:, 1:] != region[:, :-1]
    edges[:height, 1:] |= across
    edges[:height, :-1] |= across
    down = region[1:] != region[:-1]
    edges[1:height] |= down
    edges[: height - 1] |= down
    per_band: np.ndarray = np.any(edges.reshape(-1, _BAND_ROWS, width), axis=1)
    near = per_band.copy()  # an edge reaches less than a band's height into the next band
    near[1:] |= per_band[:-1]
    near[:-1] |= per_band[1:]
    return near


def _bands(region: np.ndarray) -> list[tuple[int, int, int, int]] | None:
    """Bands of rows ``(top, bottom, left, right)``, each with the columns that need drawing
    pixel by pixel; the rest of a band's row is plain. None when that is most of the box."""
    height, width = region.shape
    bands: list[tuple[int, int, int, int]] = []
    for index, columns in enumerate(_edge_columns(region)):
        top, bottom = index * _BAND_ROWS, min((index + 1) * _BAND_ROWS, height)
        found = np.flatnonzero(columns)
        left, right = (
            (
                max(int(found[0]) - _EDGE_REACH_PX, 0),
                min(int(found[-1]) + 1 + _EDGE_REACH_PX, width),
            )
            if found.size
            else (0, 0)
        )
        # Bands with the same columns and the same plain sides are drawn as one.
        if bands and bands[-1][1] == top and bands[-1][2:] == (left, right):
            previous = bands[-1]
            same_sides = region[previous[0], 0] == region[top, 0] and (
                region[previous[0], -1] == region[top, -1]
            )
            if same_sides:
                bands[-1] = (previous[0], bottom, left, right)
                continue
        bands.append((top, bottom, left, right))
    busy = sum((bottom - top) * (right - left) for top, bottom, left, right in bands)
    return None if busy > _PIECES_WORTH_IT * height * width else bands


def _pieces(region: np.ndarray, colour: RGB) -> Iterator[_Piece]:
    height, width = region.shape
    bands = _bands(region)
    if bands is None:
        yield (0, 0, width, height), _paint(region, colour)
        return
    for top, bottom, left, right in bands:
        for plain_left, plain_right, column in ((0, left, 0), (right, width, width - 1)):
            if plain_left < plain_right and region[top, column]:
                yield (plain_left, top, plain_right, bottom), None
        if left == right:  # no edge near this band: the plain side above is all of it
            continue
        room_top, room_left = max(top - _BAND_ROOM_PX, 0), max(left - _BAND_ROOM_PX, 0)
        room = region[
            room_top : min(bottom + _BAND_ROOM_PX, height),
            room_left : min(right + _BAND_ROOM_PX, width),
        ]
        drawn = _paint(room, colour).crop(
            (left - room_left, top - room_top, right - room_left, bottom - room_top)
        )
        yield (left, top, right, bottom), drawn


@dataclass(frozen=True)
class MaskLayer:
    """One object's mask as a transparent picture: what :func:`paint_masks` pastes at ``box``
    (left, top, right, bottom in the image's pixels), and what the web picker's page draws
    over its plain frame."""

    object_id: int
    box: tuple[int, int, int, int]
    image: Image.Image  # "RGBA", the size of ``box``


def _layer(obj: _Object, colour: RGB) -> MaskLayer:
    left, top, right, bottom = obj.box
    layer = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    for box, drawn in _pieces(obj.region, colour):
        layer.paste(_inside_rgba(colour) if drawn is None else drawn, box)
    return MaskLayer(obj.object_id, obj.box, layer)


def mask_layers(
    image: Image.Image,
    masks: Sequence[tuple[int, MaskInput]],
    pixels: np.ndarray | None = None,
) -> list[MaskLayer]:
    """Each object's mask over ``image`` as a :class:`MaskLayer`, in drawing order: translucent
    fill, outline, halo, cropped to the object.

    ``masks`` pairs an ``object_id`` with an ``rle_mask`` mapping or a decoded (h, w) mask of
    any size; masks are scaled to the image. Colours are chosen (see :mod:`bot.render.colours`)
    from the image as it is, before any mask is drawn, so the layers pasted one after the other
    over it give the board. ``pixels``, when given, are the image's pixels as an (h, w, 3)
    array, which spares copying them out of Pillow.
    """
    objects = _locate(image.size, masks)
    colours = _choose_colours(image, objects, pixels)
    return [_layer(obj, colours[obj.object_id]) for obj in objects]


def paint_masks(
    image: Image.Image,
    masks: Sequence[tuple[int, MaskInput]],
    pixels: np.ndarray | None = None,
) -> None:
    """Draw each object's mask onto ``image`` in place: the pixels of :func:`mask_layers`'
    layers pasted in order, without making the layers (``pixels`` as for those)."""
    objects = _locate(image.size, masks)
    colours = _choose_colours(image, objects, pixels)
    for obj in objects:
        left, top = obj.box[:2]
        for (x0, y0, x1, y1), drawn in _pieces(obj.region, colours[obj.object_id]):
            at = (left + x0, top + y0, left + x1, top + y1)
            if drawn is None:
                drawn = Image.new("RGBA", (x1 - x0, y1 - y0), _inside_rgba(colours[obj.object_id]))
            image.paste(drawn, at, drawn)
