"""The zoom picker's image of a session (SPEC §10), from what is stored: frame, masks, points.

The frame comes from the board's own frame caches, so the picker and the board always show the
same frame: the whole frame from the board-size copy (already in memory after the board was
drawn; at 1280 px it is bigger than the picker), an enlarged cell from the full-resolution frame
(a fifth of the frame must keep the video's own detail; the frames being zoomed into are kept
decoded in memory, so the cells of one frame cost one PNG decode). The masks and numbered points
are that frame's, so the picker shows what is already selected before and after every mark. An
encoded picture is kept by a digest of all it shows, so Back, a cell opened again or a reopened
picker are not drawn twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image

from bot.editing.board_cache import SizedLRU, board_digest, board_frame, full_frame
from bot.editing.boards import (
    draw_off_loop,
    drawable_masks,
    frame_caption,
    point_views,
    session_dir,
)
from bot.errors import UserFacingError
from bot.grid import CellRef
from bot.i18n import Msg
from bot.render.picker import WHOLE, render_picker
from bot.storage import MAX_POINTS_PER_FRAME, Session, Store
from bot.zoom import ZOOM_GRID, cell_region

__all__ = ["PICKER_FORMAT", "PickerView", "build_picker"]

PICKER_FORMAT: Final = "jpeg"
# Encoded pictures are 100-250 KB: the latest few dozen views (a member's cells and whole frame).
PICTURES: SizedLRU[bytes] = SizedLRU(6 * 2**20)
# Full-resolution frames being zoomed into: a mark is a cell then a sub-cell, often several on
# one frame, and each cell needs the frame (a PNG decode of 35-40 ms at 1080p, 160 ms at 4K).
# About two 4K frames or eight 1080p ones.
FULL_FRAMES: SizedLRU[Image.Image] = SizedLRU(64 * 2**20)
NO_SUCH_FRAME = Msg(
    "This picker's frame is not in the video any more; open a new picker from the board."
)


@dataclass(frozen=True)
class PickerView:
    """Everything the picker message shows."""

    session_id: int
    frame_index: int  # the 0-based frame_index sent to Kling
    cell: CellRef | None  # None: the whole frame; else the enlarged first-level cell
    image: bytes
    image_format: str
    points_on_frame: int
    max_points: int = MAX_POINTS_PER_FRAME

    @property
    def cell_name(self) -> str | None:
        return ZOOM_GRID.cell_name(self.cell) if self.cell is not None else None


def _full_frame(video: Path, cache_dir: Path, index: int) -> Image.Image:
    key = (str(cache_dir), index)
    frame = FULL_FRAMES.get(key)
    if frame is None:
        frame = full_frame(video, cache_dir, index)
        frame.load()
        FULL_FRAMES.put(key, frame, frame.width * frame.height * len(frame.getbands()))
    return frame


def _render(
    video: Path,
    cache_dir: Path,
    index: int,
    masks: list[Any],
    numbered: list[tuple[int, float, float]],
    cell: CellRef | None,
    caption: str,
) -> bytes:
    cell_name = ZOOM_GRID.cell_name(cell) if cell is not None else None
    key = board_digest(
        str(cache_dir), index, masks, ["picker", numbered, cell_name, caption, PICKER_FORMAT]
    )
    encoded = PICTURES.get(key)
    if encoded is not None:
        return encoded
    frame: np.ndarray | Image.Image
    if cell is None:
        frame, region = board_frame(video, cache_dir, index), WHOLE
    else:
        frame, region = _full_frame(video, cache_dir, index), cell_region(cell)
    encoded = render_picker(
        frame,
        drawable_masks(masks),
        numbered,
        region=region,
        caption=caption,
        image_format=PICKER_FORMAT,
    )
    PICTURES.put(key, encoded, len(encoded))
    return encoded


async def build_picker(
    store: Store,
    session: Session,
    media_dir: Path,
    *,
    frame_index: int,
    cell: CellRef | None,
    locale: object = None,
) -> PickerView:
    """The picker of ``frame_index`` (whole, or ``cell`` enlarged), its caption in ``locale``
    (the member's: only they see it); UserFacingError when the frame is not in the video or the
    video is gone."""
    if not session.local_path:
        raise UserFacingError(Msg("This session's video is not on the bot's disk any more."))
    if not 0 <= frame_index < max(session.video.total_frame, 1):
        raise UserFacingError(NO_SUCH_FRAME)
    points = point_views(await store.list_points(session.id, frame_index), frame_index)
    masks = await store.get_frame_masks(session.id, frame_index)
    caption = frame_caption(frame_index, session.video.fps).render(locale)
    if cell is not None:
        caption += f" · {ZOOM_GRID.cell_name(cell)}"
    image = await draw_off_loop(
        _render,
        Path(session.local_path),
        session_dir(media_dir, session.id) / "frames",
        frame_index,
        masks,
        [(p.number, p.x, p.y) for p in points],
        cell,
        caption,
    )
    return PickerView(
        session_id=session.id,
        frame_index=frame_index,
        cell=cell,
        image=image,
        image_format=PICKER_FORMAT,
        points_on_frame=len(points),
    )
