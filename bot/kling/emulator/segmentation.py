"""Colour-similarity segmentation standing in for Kling's click-to-mask model.

A click grows a region of similar colour around the clicked pixel. Work happens on a
downscaled copy of the frame (fast flood fill by constrained dilation), then the region is
refined at full resolution so mask edges follow the real pixels. On a single frame where an
object has no clicks (the masks a selection call returns) it is looked for near where it was
clicked; whole videos (previews and edits) follow it frame to frame instead (see tracking.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bot.masks import dilate

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
        self.full = np.ascontiguousarray(rgb, dtype=np.uint8)
        self.height, self.width = rgb.shape[:2]
        # A whole-factor box reduction is several times faster than a resample, and makes
        # every working pixel cover exactly factor x factor frame pixels.
        self.factor = max(1, math.ceil(max(self.height, self.width) / WORK_LONG_SIDE))
        image = Image.fromarray(self.full)
        self.low = np.asarray(image.reduce(self.factor) if self.factor > 1 else image)
        self.low_height, self.low_width = self.low.shape[:2]

    @classmethod
    def from_image(cls, image: Image.Image) -> PreparedFrame:
        return cls(np.asarray(image.convert("RGB")))

    def full_pixel(self, x: float, y: float) -> tuple[int, int]:
        col = min(self.width - 1, max(0, int(x * self.width)))
        row = min(self.height - 1, max(0, int(y * self.height)))
        return row, col

    def low_pixel(self, x: float, y: float) -> tuple[int, int]:
        row, col = self.full_pixel(x, y)
        return min(self.low_height - 1, row // self.factor), min(
            self.low_width - 1, col // self.factor
        )

    def seed_colour(self, x: float, y: float) -> tuple[int, int, int]:
        """Median colour of a small patch, so codec noise on one pixel cannot decide the region."""
        row, col = self.full_pixel(x, y)
        r = SEED_PATCH_RADIUS
        patch = self.full[max(0, row - r) : row + r + 1, max(0, col - r) : col + r + 1]
        median = np.median(patch.reshape(-1, 3), axis=0)
        return (int(median[0]), int(median[1]), int(median[2]))


def close_to(
    pixels: np.ndarray, colours: list[tuple[int, int, int]], tolerance: float
) -> np.ndarray:
    """Which pixels (an (..., 3) uint8 array) lie within `tolerance` of any of `colours`.

    Squared channel differences come from 256-entry lookup tables, so no widened copy of the
    pixels is made.
    """
    limit = int(tolerance * tolerance)
    levels = np.arange(256, dtype=np.int32)
    close = np.zeros(pixels.shape[:-1], dtype=bool)
    planes = [pixels[..., channel] for channel in range(3)]
    for colour in colours:
        total = ((levels - colour[0]) ** 2)[planes[0]]
        total += ((levels - colour[1]) ** 2)[planes[1]]
        total += ((levels - colour[2]) ** 2)[planes[2]]
        close |= total <= limit
    return close


def _spread_along_rows(region: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Every horizontal run of `allowed` pixels that touches `region` becomes region."""
    height, width = allowed.shape
    flat = allowed.ravel()
    starts = flat.copy()
    starts[1:] &= ~flat[:-1]
    starts[::width] = flat[::width]  # a run never continues onto the next row
    run_ids = np.cumsum(starts, dtype=np.int32) * flat
    touched = np.zeros(int(starts.sum()) + 1, dtype=bool)
    touched[run_ids[region.ravel() & flat]] = True
    touched[0] = False
    grown: np.ndarray = touched[run_ids].reshape(height, width)
    return grown


def flood_fill(allowed: np.ndarray, row: int, col: int) -> np.ndarray:
    """The 4-connected component of `allowed` containing (row, col)."""
    seeds = np.zeros_like(allowed)
    seeds[row, col] = True
    return flood_fill_from(allowed, seeds)


def flood_fill_from(allowed: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Every 4-connected component of `allowed` that holds a pixel of `seeds`.

    Spreads along whole row runs, then whole column runs, until nothing changes: a handful of
    vectorised passes for ordinary shapes instead of one pass per pixel of distance.
    """
    region: np.ndarray = seeds & allowed
    count = int(region.sum())
    if count == 0:
        return region
    allowed_t = np.ascontiguousarray(allowed.T)
    while True:
        region = _spread_along_rows(region, allowed)
        region = np.ascontiguousarray(_spread_along_rows(region.T, allowed_t).T)
        new_count = int(region.sum())
        if new_count == count:
            return region
        count = new_count


def _upscale(frame: PreparedFrame, low_mask: np.ndarray) -> np.ndarray:
    factor = frame.factor
    full = low_mask.repeat(factor, axis=0).repeat(factor, axis=1)
    return np.ascontiguousarray(full[: frame.height, : frame.width])


def refine(
    frame: PreparedFrame,
    low_region: np.ndarray,
    colours: list[tuple[int, int, int]],
    tolerance: float,
) -> np.ndarray:
    """Turn a low-resolution region into a full-resolution mask that follows the real edges.

    Only the band along the region's border is decided pixel by pixel at full resolution; the
    interior is taken whole, which also keeps masks free of speckle holes, as a model's are.
    """
    if not low_region.any():
        return np.zeros((frame.height, frame.width), dtype=bool)
    core = low_region & ~dilate(~low_region)
    band = dilate(low_region) & ~core
    mask = _upscale(frame, core)
    # Frame pixels under each band cell, listed directly instead of searching a full-size mask.
    low_rows, low_cols = np.nonzero(band)
    offsets = np.arange(frame.factor)
    rows = (
        (low_rows[:, None, None] * frame.factor + offsets[None, :, None])
        .repeat(frame.factor, axis=2)
        .ravel()
    )
    cols = (
        (low_cols[:, None, None] * frame.factor + offsets[None, None, :])
        .repeat(frame.factor, axis=1)
        .ravel()
    )
    inside = (rows < frame.height) & (cols < frame.width)
    rows, cols = rows[inside], cols[inside]
    mask[rows, cols] = close_to(frame.full[rows, cols], colours, tolerance)
    return mask


def grow_low(
    frame: PreparedFrame, x: float, y: float, colour: tuple[int, int, int], tolerance: float
) -> np.ndarray:
    """Working-resolution region of `colour` connected to the clicked point (may be empty)."""
    allowed = close_to(frame.low, [colour], tolerance)
    row, col = frame.low_pixel(x, y)
    if not allowed[row, col]:
        # The working copy averages pixels, so a click on a thin feature may miss; take the
        # nearest matching low-res pixel within a couple of cells.
        row, col = nearest_true(allowed, row, col, radius=2.5) or (row, col)
    return flood_fill(allowed, row, col)


def grow_from_click(
    frame: PreparedFrame, x: float, y: float, colour: tuple[int, int, int], tolerance: float
) -> np.ndarray:
    """Full-resolution mask of the region of `colour` connected to the clicked point."""
    return _full_mask(frame, x, y, grow_low(frame, x, y, colour, tolerance), colour, tolerance)


def _full_mask(
    frame: PreparedFrame,
    x: float,
    y: float,
    region: np.ndarray,
    colour: tuple[int, int, int],
    tolerance: float,
) -> np.ndarray:
    if not region.any():
        # Nothing of that colour around the click: the clicked pixel alone, as a model would
        # still return something where the member pointed.
        full = np.zeros((frame.height, frame.width), dtype=bool)
        full_row, full_col = frame.full_pixel(x, y)
        full[full_row, full_col] = True
        return full
    return refine(frame, region, [colour], tolerance)


def nearest_true(mask: np.ndarray, row: float, col: float, radius: float) -> tuple[int, int] | None:
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    distances = (rows - row) ** 2 + (cols - col) ** 2
    best = int(np.argmin(distances))
    if distances[best] > radius * radius:
        return None
    return int(rows[best]), int(cols[best])


def track(frame: PreparedFrame, reference: list[Click], tolerance: float) -> np.ndarray:
    """Mask of an object on a frame where it was not clicked, from clicks on another frame.

    Used for a single frame, with no neighbouring frames to follow the object through, so it
    only looks near where the object was clicked.
    """
    colours = [click.colour for click in reference]
    allowed = close_to(frame.low, colours, tolerance)
    radius = TRACK_SEARCH_FRACTION * float(np.hypot(frame.low_width, frame.low_height))
    region = np.zeros_like(allowed)
    for click in reference:
        row, col = frame.low_pixel(click.x, click.y)
        if region[row, col]:
            continue
        seed = nearest_true(allowed, row, col, radius)
        if seed is not None:
            region |= flood_fill(allowed, *seed)
    return refine(frame, region, colours, tolerance)


def object_masks(
    frame: PreparedFrame,
    frame_index: int,
    clicks_by_frame: dict[int, list[Click]],
    tolerance: float,
) -> dict[int, np.ndarray]:
    """Every object's mask on one frame: grown where it was clicked, tracked elsewhere.

    Objects whose tracked mask is empty on this frame are left out.
    """
    object_ids = sorted({c.object_id for clicks in clicks_by_frame.values() for c in clicks})
    masks: dict[int, np.ndarray] = {}
    for object_id in object_ids:
        own = [c for c in clicks_by_frame.get(frame_index, []) if c.object_id == object_id]
        if own:
            masks[object_id] = grow_clicks(frame, own, tolerance)[1]
            continue
        reference = _nearest_marked_clicks(object_id, frame_index, clicks_by_frame)
        mask = track(frame, reference, tolerance)
        if mask.any():
            masks[object_id] = mask
    return masks


def grow_clicks(
    frame: PreparedFrame, clicks: list[Click], tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Union of the regions grown from each click: (working-resolution region, full mask).

    A click that lands inside a region already grown from a click of nearly the same colour
    would grow the same region again, so it is skipped (the expensive case is many clicks on
    one large area).
    """
    mask = np.zeros((frame.height, frame.width), dtype=bool)
    low = np.zeros((frame.low_height, frame.low_width), dtype=bool)
    grown_colours: list[tuple[int, int, int]] = []
    for click in clicks:
        row, col = frame.full_pixel(click.x, click.y)
        if mask[row, col] and any(
            _colour_distance(click.colour, colour) <= tolerance / 4 for colour in grown_colours
        ):
            continue
        region = grow_low(frame, click.x, click.y, click.colour, tolerance)
        low |= region
        mask |= _full_mask(frame, click.x, click.y, region, click.colour, tolerance)
        grown_colours.append(click.colour)
    return low, mask


def _colour_distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(np.sqrt(sum((p - q) ** 2 for p, q in zip(a, b, strict=True))))


def _nearest_marked_clicks(
    object_id: int, frame_index: int, clicks_by_frame: dict[int, list[Click]]
) -> list[Click]:
    marked = [
        index
        for index, clicks in clicks_by_frame.items()
        if any(c.object_id == object_id for c in clicks)
    ]
    nearest = min(marked, key=lambda index: (abs(index - frame_index), index))
    return [c for c in clicks_by_frame[nearest] if c.object_id == object_id]


def assign_object(
    frame: PreparedFrame, x: float, y: float, masks: dict[int, np.ndarray], next_object_id: int
) -> int:
    """A click inside an existing object's mask joins it; anywhere else it starts a new object."""
    row, col = frame.full_pixel(x, y)
    for object_id, mask in sorted(masks.items()):
        if mask[row, col]:
            return object_id
    return next_object_id
