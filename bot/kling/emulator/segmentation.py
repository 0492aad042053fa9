"""Colour-similarity segmentation standing in for Kling's click-to-mask model.

A click grows a region of similar colour around the clicked pixel. Work happens on a
downscaled copy of the frame (fast flood fill by constrained dilation), then the region is
refined at full resolution so mask edges follow the real pixels. An object that has no clicks on
a frame is "tracked" there by looking for its clicked colours near where it was clicked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

WORK_LONG_SIDE = 320
# How far (fraction of the frame diagonal) tracking searches for an object's colour.
TRACK_SEARCH_FRACTION = 0.2
SEED_PATCH_RADIUS = 2


@dataclass(frozen=True)
class Click:
    """One stored point: exact floats as sent, the object it belongs to, the colour it grew from."""

    x: float
    y: float
    object_id: int
    colour: tuple[int, int, int]


class PreparedFrame:
    """A frame at full size plus a downscaled working copy."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.full = rgb.astype(np.int16)
        self.height, self.width = rgb.shape[:2]
        scale = min(1.0, WORK_LONG_SIDE / max(self.height, self.width))
        low_w = max(1, round(self.width * scale))
        low_h = max(1, round(self.height * scale))
        low = Image.fromarray(rgb).resize((low_w, low_h), Image.Resampling.BOX)
        self.low = np.asarray(low).astype(np.int16)
        self.low_height, self.low_width = low_h, low_w

    @classmethod
    def from_image(cls, image: Image.Image) -> PreparedFrame:
        return cls(np.asarray(image.convert("RGB")))

    def full_pixel(self, x: float, y: float) -> tuple[int, int]:
        col = min(self.width - 1, max(0, int(x * self.width)))
        row = min(self.height - 1, max(0, int(y * self.height)))
        return row, col

    def low_pixel(self, x: float, y: float) -> tuple[int, int]:
        col = min(self.low_width - 1, max(0, int(x * self.low_width)))
        row = min(self.low_height - 1, max(0, int(y * self.low_height)))
        return row, col

    def seed_colour(self, x: float, y: float) -> tuple[int, int, int]:
        """Median colour of a small patch, so codec noise on one pixel cannot decide the region."""
        row, col = self.full_pixel(x, y)
        r = SEED_PATCH_RADIUS
        patch = self.full[max(0, row - r) : row + r + 1, max(0, col - r) : col + r + 1]
        median = np.median(patch.reshape(-1, 3), axis=0)
        return (int(median[0]), int(median[1]), int(median[2]))


def _close_to(
    pixels: np.ndarray, colours: list[tuple[int, int, int]], tolerance: float
) -> np.ndarray:
    limit = tolerance * tolerance
    close = np.zeros(pixels.shape[:2], dtype=bool)
    for colour in colours:
        diff = pixels - np.asarray(colour, dtype=np.int16)
        close |= np.einsum("ijk,ijk->ij", diff, diff, dtype=np.int32) <= limit
    return close


def _dilate(mask: np.ndarray) -> np.ndarray:
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def flood_fill(allowed: np.ndarray, row: int, col: int) -> np.ndarray:
    """The 4-connected component of `allowed` containing (row, col), by repeated dilation."""
    region = np.zeros_like(allowed)
    if not allowed[row, col]:
        return region
    region[row, col] = True
    count = 1
    while True:
        for _ in range(4):
            region = _dilate(region) & allowed
        new_count = int(region.sum())
        if new_count == count:
            return region
        count = new_count


def _refine(frame: PreparedFrame, low_region: np.ndarray, colours: list[tuple[int, int, int]],
            tolerance: float) -> np.ndarray:
    """Turn a low-resolution region into a full-resolution mask that follows the real edges."""
    if not low_region.any():
        return np.zeros((frame.height, frame.width), dtype=bool)
    halo = _dilate(low_region)
    upscaled = Image.fromarray(halo.astype(np.uint8) * 255).resize(
        (frame.width, frame.height), Image.Resampling.NEAREST
    )
    near = np.asarray(upscaled) > 0
    rows = np.flatnonzero(near.any(axis=1))
    cols = np.flatnonzero(near.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    mask = np.zeros((frame.height, frame.width), dtype=bool)
    window = frame.full[top:bottom, left:right]
    close = _close_to(window, colours, tolerance)
    mask[top:bottom, left:right] = near[top:bottom, left:right] & close
    return mask


def grow_from_click(frame: PreparedFrame, x: float, y: float, colour: tuple[int, int, int],
                    tolerance: float) -> np.ndarray:
    """Full-resolution mask of the region of `colour` connected to the clicked point."""
    allowed = _close_to(frame.low, [colour], tolerance)
    row, col = frame.low_pixel(x, y)
    if not allowed[row, col]:
        # The working copy averages pixels, so a click on a thin feature may miss; take the
        # nearest matching low-res pixel within a couple of cells.
        row, col = _nearest_true(allowed, row, col, radius=2.5) or (row, col)
    region = flood_fill(allowed, row, col)
    if not region.any():
        full = np.zeros((frame.height, frame.width), dtype=bool)
        full_row, full_col = frame.full_pixel(x, y)
        full[full_row, full_col] = True
        return full
    return _refine(frame, region, [colour], tolerance)


def _nearest_true(mask: np.ndarray, row: int, col: int, radius: float) -> tuple[int, int] | None:
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    distances = (rows - row) ** 2 + (cols - col) ** 2
    best = int(np.argmin(distances))
    if distances[best] > radius * radius:
        return None
    return int(rows[best]), int(cols[best])


def track(frame: PreparedFrame, reference: list[Click], tolerance: float) -> np.ndarray:
    """Mask of an object on a frame where it was not clicked, from clicks on another frame."""
    colours = [click.colour for click in reference]
    allowed = _close_to(frame.low, colours, tolerance)
    radius = TRACK_SEARCH_FRACTION * float(np.hypot(frame.low_width, frame.low_height))
    region = np.zeros_like(allowed)
    for click in reference:
        row, col = frame.low_pixel(click.x, click.y)
        if region[row, col]:
            continue
        seed = _nearest_true(allowed, row, col, radius)
        if seed is not None:
            region |= flood_fill(allowed, *seed)
    return _refine(frame, region, colours, tolerance)


def object_masks(frame: PreparedFrame, frame_index: int, clicks_by_frame: dict[int, list[Click]],
                 tolerance: float) -> dict[int, np.ndarray]:
    """Every object's mask on one frame: grown where it was clicked, tracked elsewhere.

    Objects whose tracked mask is empty on this frame are left out.
    """
    object_ids = sorted({c.object_id for clicks in clicks_by_frame.values() for c in clicks})
    masks: dict[int, np.ndarray] = {}
    for object_id in object_ids:
        own = [c for c in clicks_by_frame.get(frame_index, []) if c.object_id == object_id]
        if own:
            mask = np.zeros((frame.height, frame.width), dtype=bool)
            for click in own:
                mask |= grow_from_click(frame, click.x, click.y, click.colour, tolerance)
            masks[object_id] = mask
            continue
        reference = _nearest_marked_clicks(object_id, frame_index, clicks_by_frame)
        mask = track(frame, reference, tolerance)
        if mask.any():
            masks[object_id] = mask
    return masks


def _nearest_marked_clicks(object_id: int, frame_index: int,
                           clicks_by_frame: dict[int, list[Click]]) -> list[Click]:
    marked = [
        index for index, clicks in clicks_by_frame.items()
        if any(c.object_id == object_id for c in clicks)
    ]
    nearest = min(marked, key=lambda index: (abs(index - frame_index), index))
    return [c for c in clicks_by_frame[nearest] if c.object_id == object_id]


def assign_object(frame: PreparedFrame, x: float, y: float,
                  masks: dict[int, np.ndarray], next_object_id: int) -> int:
    """A click inside an existing object's mask joins it; anywhere else it starts a new object."""
    row, col = frame.full_pixel(x, y)
    for object_id, mask in sorted(masks.items()):
        if mask[row, col]:
            return object_id
    return next_object_id
