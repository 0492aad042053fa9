"""Mask colours that stand out from the object they cover (SPEC §3: a colour per object).

A fixed colour per object id fails exactly when it matters: a red mask on a red ball only
shows as a thin halo. Each object instead gets the palette colour that differs most, on
average, from the frame's pixels under its mask, measured in CIELAB (Pillow's LittleCMS
binding does the conversion), so the difference is the one the eye sees rather than RGB's.
Objects are served in ``object_id`` order and no two share a colour, so an object's colour
depends only on the pixels under it and on the objects with smaller ids: redrawing the same
frame draws the same colours.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache

import numpy as np
from PIL import Image, ImageCms

__all__ = ["MASK_COLOURS", "contrast_colour", "mask_colour", "to_lab"]

RGB = tuple[int, int, int]

# Saturated colours that stay apart from each other, at several lightnesses, so that every
# object colour has some entry far from it (yellow for dark objects, violet and blue for
# light ones, cyan for red, magenta for green...).
MASK_COLOURS: tuple[RGB, ...] = (
    (255, 64, 64),
    (48, 140, 255),
    (40, 220, 90),
    (255, 200, 0),
    (190, 80, 255),
    (0, 220, 220),
    (255, 120, 200),
    (255, 140, 20),
    (150, 230, 30),
    (120, 120, 255),
)
# How much an object's own palette entry is favoured over a slightly better contrast: keeps an
# object's colour from hopping between frames whose pixels barely differ.
_OWN_COLOUR_BONUS = 1.15
# Palette colours closer than this (CIE76) to one another object has are scored down in
# proportion: neighbours on the board should not be told apart by a shade.
_DISTINCT_DELTA_E = 80.0
# Enough pixels for a steady mean; more only costs time.
_MAX_SAMPLES = 2048


def mask_colour(object_id: int) -> RGB:
    """The palette entry an object prefers when the frame does not argue for another one."""
    return MASK_COLOURS[object_id % len(MASK_COLOURS)]


@lru_cache(maxsize=1)
def _srgb_to_lab() -> ImageCms.ImageCmsTransform:
    # NOCACHE: LittleCMS's one-pixel cache is not safe when boards render in several threads.
    return ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"),
        ImageCms.createProfile("LAB"),
        "RGB",
        "LAB",
        flags=ImageCms.Flags.NOCACHE,
    )


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0-100, a and b signed) of an ``(n, 3)`` uint8 sRGB array, as float32."""
    pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).reshape(1, -1, 3))
    lab = np.asarray(ImageCms.applyTransform(Image.fromarray(pixels, "RGB"), _srgb_to_lab()))
    lab = lab.reshape(-1, 3)
    out = np.empty(lab.shape, dtype=np.float32)
    # Pillow's LAB mode stores L scaled to 0-255 and a, b as signed bytes.
    out[:, 0] = lab[:, 0] * (100 / 255)
    out[:, 1:] = lab[:, 1:].view(np.int8)
    return out


@lru_cache(maxsize=1)
def _palette_lab() -> np.ndarray:
    return to_lab(np.array(MASK_COLOURS, dtype=np.uint8))


def contrast_colour(
    pixels: np.ndarray, taken: Collection[RGB] = (), preferred: RGB | None = None
) -> RGB:
    """The palette colour farthest, on average, from ``pixels`` (``(n, 3)`` uint8 RGB).

    Colours in ``taken`` are skipped while any other is left, and colours close to them are
    held back. ``preferred`` wins unless another colour stands out clearly more (see
    ``_OWN_COLOUR_BONUS``).
    """
    samples = np.asarray(pixels, dtype=np.uint8).reshape(-1, 3)
    if samples.shape[0] == 0:
        return preferred or MASK_COLOURS[0]
    samples = samples[:: max(1, samples.shape[0] // _MAX_SAMPLES)]
    lab, palette = to_lab(samples), _palette_lab()
    # Mean CIE76 distance from each palette colour to the pixels it would be laid over, with
    # |x - p|^2 = |x|^2 - 2 x.p + |p|^2 so that no (pixels, colours, 3) array is built.
    squared = (lab * lab).sum(axis=1)[:, None] - 2 * lab @ palette.T + (palette * palette).sum(1)
    scores = np.sqrt(np.maximum(squared, 0)).mean(axis=0)
    if taken:
        # Keep apart from the colours other objects already have: identical ones are out, and
        # near ones (yellow after orange) count for less.
        taken_lab = to_lab(np.array(list(taken), dtype=np.uint8))
        nearest = np.sqrt(((palette[:, None, :] - taken_lab[None]) ** 2).sum(axis=2)).min(1)
        if nearest.max() > 0:  # else every colour is taken: reuse the best
            scores *= np.minimum(nearest / _DISTINCT_DELTA_E, 1.0)
    if preferred in MASK_COLOURS:
        scores[MASK_COLOURS.index(preferred)] *= _OWN_COLOUR_BONUS
    return MASK_COLOURS[int(np.argmax(scores))]
