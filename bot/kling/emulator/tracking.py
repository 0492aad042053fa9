"""Following each marked object through a whole video, standing in for Kling's video tracking.

An object is grown from its clicks on every frame where it was marked. On the frames after a
marked frame it is followed frame to frame: its region on the previous frame, moved on by the
object's recent motion, seeds a flood fill over pixels of its clicked colours, held to a window
around that prediction (so a ball crossing the whole frame is followed, and a same-coloured area
elsewhere is not picked up). Frames before an object's first marked frame are followed backwards
from it. All of this happens on PreparedFrame's small working copy; only the final mask of each
frame is refined at full resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from bot.kling.emulator.segmentation import (
    Click,
    PreparedFrame,
    close_to,
    flood_fill_from,
    grow_clicks,
    nearest_true,
    refine,
)

# How far (fractions of the working frame's diagonal) a lost or still object is looked for, and
# the cap however fast it moved or however long it has been out of sight.
MIN_SEARCH_FRACTION = 0.04
MAX_SEARCH_FRACTION = 0.25
# Weight of the newest measured motion against the running estimate (codec noise jitters it).
MOTION_WEIGHT = 0.6

Colour = tuple[int, int, int]
FrameSource = Callable[[], Iterable[np.ndarray]]


@dataclass
class Follower:
    """One object's position on the last frame it was found, and how it has been moving."""

    colours: list[Colour]
    region: np.ndarray  # working resolution, frame-sized
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    centroid: tuple[float, float] = (0.0, 0.0)
    velocity: tuple[float, float] = (0.0, 0.0)  # rows, cols per frame
    lost: int = 0
    measured: bool = field(default=False, repr=False)

    @classmethod
    def start(cls, region: np.ndarray, colours: list[Colour]) -> Follower:
        follower = cls(colours=colours, region=region)
        if region.any():
            follower._place(region)
        else:
            follower.lost = 1
        return follower

    def _place(self, region: np.ndarray) -> None:
        rows = np.flatnonzero(region.any(axis=1))
        cols = np.flatnonzero(region.any(axis=0))
        self.box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
        ys, xs = np.nonzero(region)
        self.centroid = (float(ys.mean()), float(xs.mean()))
        self.region = region

    def step(self, low: np.ndarray, tolerance: float) -> np.ndarray:
        """The object's region on the next frame (`low` is its working copy); empty if not seen."""
        height, width = low.shape[:2]
        found = np.zeros((height, width), dtype=bool)
        if not self.region.any():
            return found
        ahead = self.lost + 1
        shift_y = round(self.velocity[0] * ahead)
        shift_x = round(self.velocity[1] * ahead)
        diagonal = math.hypot(height, width)
        speed = math.hypot(*self.velocity)
        radius = min(
            MAX_SEARCH_FRACTION * diagonal, (MIN_SEARCH_FRACTION * diagonal + 2 * speed) * ahead
        )
        top, left, bottom, right = self.box
        # The object may also grow (coming closer, entering the frame): allow half its size.
        reach = math.ceil(max(radius, (bottom - top) / 2, (right - left) / 2))
        w_top, w_left = max(0, top + shift_y - reach), max(0, left + shift_x - reach)
        w_bottom = min(height, bottom + shift_y + reach)
        w_right = min(width, right + shift_x + reach)
        if w_top >= w_bottom or w_left >= w_right:
            self.lost += 1  # predicted wholly outside the frame
            return found
        allowed = close_to(low[w_top:w_bottom, w_left:w_right], self.colours, tolerance)
        seeds = np.zeros_like(allowed)
        # The previous region, moved on by the motion, clipped to the window.
        dst_top, dst_left = top + shift_y, left + shift_x
        src = self.region[top:bottom, left:right]
        y0, x0 = max(dst_top, w_top), max(dst_left, w_left)
        y1, x1 = min(dst_top + src.shape[0], w_bottom), min(dst_left + src.shape[1], w_right)
        if y0 < y1 and x0 < x1:
            seeds[y0 - w_top : y1 - w_top, x0 - w_left : x1 - w_left] = src[
                y0 - dst_top : y1 - dst_top, x0 - dst_left : x1 - dst_left
            ]
        seeds &= allowed
        if not seeds.any():
            row = self.centroid[0] + self.velocity[0] * ahead - w_top
            col = self.centroid[1] + self.velocity[1] * ahead - w_left
            nearest = nearest_true(allowed, row, col, radius)
            if nearest is not None:
                seeds[nearest] = True
        if not seeds.any():
            self.lost += 1
            return found
        found[w_top:w_bottom, w_left:w_right] = flood_fill_from(allowed, seeds)
        previous = self.centroid
        self._place(found)
        motion = (
            (self.centroid[0] - previous[0]) / ahead,
            (self.centroid[1] - previous[1]) / ahead,
        )
        if self.measured:
            motion = (
                MOTION_WEIGHT * motion[0] + (1 - MOTION_WEIGHT) * self.velocity[0],
                MOTION_WEIGHT * motion[1] + (1 - MOTION_WEIGHT) * self.velocity[1],
            )
        self.velocity, self.measured, self.lost = motion, True, 0
        return found


def _marked_frames(clicks_by_frame: dict[int, list[Click]]) -> dict[int, list[int]]:
    """Each object's marked frames, in order."""
    marked: dict[int, list[int]] = {}
    for index in sorted(clicks_by_frame):
        for object_id in sorted({c.object_id for c in clicks_by_frame[index]}):
            marked.setdefault(object_id, []).append(index)
    return marked


def _own_clicks(clicks_by_frame: dict[int, list[Click]], index: int, object_id: int) -> list[Click]:
    return [c for c in clicks_by_frame.get(index, []) if c.object_id == object_id]


def _follow_backwards(
    open_frames: FrameSource,
    clicks_by_frame: dict[int, list[Click]],
    firsts: dict[int, int],
    tolerance: float,
) -> dict[int, list[np.ndarray]]:
    """Regions of each object on the frames before its first marked frame, in frame order.

    Needs the working copies of those frames, which are decoded once and kept (a few hundred
    KB each); nothing is decoded when every object was marked on the first frame.
    """
    wanted = {object_id: first for object_id, first in firsts.items() if first > 0}
    if not wanted:
        return {}
    last = max(wanted.values())
    lows: list[np.ndarray] = []
    starts: dict[int, Follower] = {}
    for index, rgb in enumerate(open_frames()):
        frame = PreparedFrame(rgb)
        lows.append(frame.low)
        for object_id, first in wanted.items():
            if first == index:
                own = _own_clicks(clicks_by_frame, index, object_id)
                low, _full = grow_clicks(frame, own, tolerance)
                starts[object_id] = Follower.start(low, [c.colour for c in own])
        if index >= last:
            break
    before: dict[int, list[np.ndarray]] = {}
    for object_id, follower in starts.items():
        regions = [
            follower.step(lows[index], tolerance) for index in range(wanted[object_id] - 1, -1, -1)
        ]
        before[object_id] = regions[::-1]
    return before


def track_video(
    open_frames: FrameSource, clicks_by_frame: dict[int, list[Click]], tolerance: float
) -> Iterator[tuple[np.ndarray, dict[int, np.ndarray]]]:
    """Every frame of the video (RGB) with every object's full-resolution mask on it.

    `open_frames` yields the video's frames from the start each time it is called (it is called
    a second time only to follow objects backwards from a later marked frame). Objects not seen
    on a frame are left out of that frame's masks.
    """
    marked = _marked_frames(clicks_by_frame)
    firsts = {object_id: frames[0] for object_id, frames in marked.items()}
    before = _follow_backwards(open_frames, clicks_by_frame, firsts, tolerance)
    first_colours = {
        object_id: [c.colour for c in _own_clicks(clicks_by_frame, first, object_id)]
        for object_id, first in firsts.items()
    }
    followers: dict[int, Follower] = {}
    for index, rgb in enumerate(open_frames()):
        frame = PreparedFrame(rgb)
        masks: dict[int, np.ndarray] = {}
        for object_id, first in firsts.items():
            own = _own_clicks(clicks_by_frame, index, object_id)
            if own:
                # The board's mask for this frame, exactly as the selection call returned it.
                low, masks[object_id] = grow_clicks(frame, own, tolerance)
                followers[object_id] = Follower.start(low, [c.colour for c in own])
                continue
            if index < first:
                earlier = before.get(object_id, [])
                region = earlier[index] if index < len(earlier) else None
                colours = first_colours[object_id]
            else:
                region = followers[object_id].step(frame.low, tolerance)
                colours = followers[object_id].colours
            if region is not None and region.any():
                masks[object_id] = refine(frame, region, colours, tolerance)
        yield rgb, masks
