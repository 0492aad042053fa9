"""Building the board (SPEC §3) of a session from what is stored: frame, masks, points."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from bot.editing.board_cache import (
    ENCODED_BOARDS,
    board_digest,
    board_frame,
    prepare_later,
)
from bot.editing.views import BoardView, PointView
from bot.errors import UserFacingError
from bot.grid import BoardGrid
from bot.i18n import Msg
from bot.media import MediaError
from bot.render.board import BOARD_LONG_SIDE, render_board
from bot.storage import MAX_MARKED_FRAMES, MAX_POINTS_PER_FRAME, Point, Session, Store

BOARD_FORMAT: Final = "jpeg"
# Drawings (boards and pickers) run on their own threads, as many as there are cores: when 200
# members act at once, the drawings wait their turn in order and each finishes in its own time,
# instead of all sharing the CPU and all finishing late, and asyncio's default executor stays
# free for the short jobs that every answer needs (reading Kling's JSON, writing downloads).
DRAW_THREADS: Final = max(1, os.cpu_count() or 1)
_draws = ThreadPoolExecutor(max_workers=DRAW_THREADS, thread_name_prefix="draw")


def grid_for(session: Session) -> BoardGrid:
    return BoardGrid.for_frame(session.video.width, session.video.height)


def session_dir(media_dir: Path, session_id: int) -> Path:
    return media_dir / "sessions" / str(session_id)


def frame_caption(frame_index: int, fps: float) -> Msg:
    """The caption drawn on the board image: ``frame 12 · 0.40 s``."""
    seconds = frame_index / fps if fps > 0 else 0.0
    return Msg("frame {frame} · {seconds:.2f} s", frame=frame_index, seconds=seconds)


def clamp_frame(session: Session, frame_index: int) -> int:
    return max(0, min(frame_index, max(session.video.total_frame - 1, 0)))


def prepare_frame(session: Session, media_dir: Path, frame_index: int) -> None:
    """Start making ``frame_index`` ready for the board (decoded, at board size, on disk)
    without waiting for it: a mark's board is drawn when Kling answers, 1-3 s later, and then
    no longer decodes its frame while the member waits."""
    if session.local_path:
        video, cache_dir = Path(session.local_path), session_dir(media_dir, session.id) / "frames"
        prepare_later(video, cache_dir, clamp_frame(session, frame_index))


def point_views(points: Sequence[Point], frame_index: int) -> tuple[PointView, ...]:
    on_frame = [p for p in points if p.frame_index == frame_index]
    return tuple(
        PointView(id=p.id, number=n, frame_index=p.frame_index, x=p.x, y=p.y, added_by=p.added_by)
        for n, p in enumerate(on_frame, start=1)
    )


def marked_frames(points: Sequence[Point]) -> tuple[tuple[int, int], ...]:
    counts = Counter(p.frame_index for p in points)
    return tuple(sorted(counts.items()))


def contributors(points: Sequence[Point]) -> tuple[tuple[int, int], ...]:
    counts = Counter(p.added_by for p in points)
    # Most points first; among equals, whoever marked first.
    first_seen = {p.added_by: p.ordinal for p in reversed(points)}
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], first_seen[item[0]])))


def drawable_masks(stored: Sequence[Any]) -> list[tuple[int, Any]]:
    """A frame's stored masks (Kling's ``rle_mask_list`` items) as the (object id, RLE) pairs
    the drawing code takes; entries without an RLE mask are left out."""
    return [
        (int(m.get("object_id", 0)), m["rle_mask"])
        for m in stored
        if isinstance(m, dict) and isinstance(m.get("rle_mask"), dict)
    ]


def _board_key(
    cache_dir: Path,
    index: int,
    masks: list[Any],
    numbered: list[tuple[int, float, float]],
    grid: BoardGrid,
    caption: str,
) -> bytes:
    return board_digest(
        str(cache_dir),
        index,
        masks,
        [numbered, grid.describe(), caption, BOARD_FORMAT, BOARD_LONG_SIDE],
    )


def _render(
    video: Path,
    cache_dir: Path,
    index: int,
    masks: list[Any],
    numbered: list[tuple[int, float, float]],
    grid: BoardGrid,
    caption: str,
    key: bytes | None = None,
) -> bytes:
    if key is None:
        key = _board_key(cache_dir, index, masks, numbered, grid, caption)
    encoded = ENCODED_BOARDS.get(key)
    if encoded is not None:
        return encoded  # drawn by a drawing queued ahead of this one
    frame = board_frame(video, cache_dir, index)
    encoded = render_board(
        frame, drawable_masks(masks), numbered, grid, caption, image_format=BOARD_FORMAT
    )
    ENCODED_BOARDS.put(key, encoded, len(encoded))
    return encoded


async def draw_off_loop(render: Callable[..., bytes], *args: Any) -> bytes:
    """Run a drawing (board or picker) in a worker thread; a frame that cannot be read becomes
    the member's "could not be drawn" message."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, render, *args)
    try:
        return await loop.run_in_executor(_draws, call)
    except MediaError as error:
        raise UserFacingError(
            Msg("The board could not be drawn: {reason}", reason=error.message)
        ) from error


async def build_board(
    store: Store, session: Session, media_dir: Path, *, locale: object = None
) -> BoardView:
    """Render the session's current frame with that frame's stored masks and points; the
    caption drawn on the image is in ``locale`` (English when None)."""
    if not session.local_path:
        raise UserFacingError(Msg("This session's video is not on the bot's disk any more."))
    frame_index = clamp_frame(session, session.current_frame)
    points = await store.list_points(session.id)
    masks = await store.get_frame_masks(session.id, frame_index)
    on_frame = point_views(points, frame_index)
    grid = grid_for(session)
    caption = frame_caption(frame_index, session.video.fps).render(locale)
    numbered = [(p.number, p.x, p.y) for p in on_frame]
    video, cache_dir = Path(session.local_path), session_dir(media_dir, session.id) / "frames"
    key = _board_key(cache_dir, frame_index, masks, numbered, grid, caption)
    # A board already drawn (a frame visited again, a state asked for twice) is answered at
    # once, not queued behind drawings of other boards.
    image = ENCODED_BOARDS.get(key) or await draw_off_loop(
        _render, video, cache_dir, frame_index, masks, numbered, grid, caption, key
    )
    return BoardView(
        session_id=session.id,
        image=image,
        image_format=BOARD_FORMAT,
        frame_index=frame_index,
        total_frames=session.video.total_frame,
        fps=session.video.fps,
        time_s=frame_index / session.video.fps if session.video.fps > 0 else 0.0,
        points_on_frame=on_frame,
        marked_frames=marked_frames(points),
        contributors=contributors(points),
        expires_at=session.kling_expires_at,
        grid=grid.describe(),
        max_frames=MAX_MARKED_FRAMES,
        max_points_per_frame=MAX_POINTS_PER_FRAME,
    )
