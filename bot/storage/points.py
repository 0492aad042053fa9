"""SQL for the points marked on a session's frames, with Kling's per-frame point limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.storage.db import Database, Row, Tx
from bot.storage.masks import replace_masks
from bot.storage.models import (
    MAX_MARKED_FRAMES,
    MAX_POINTS_PER_FRAME,
    Point,
    PointLimitError,
    SessionNotActiveError,
    SessionStatus,
)

_ACTIVE = SessionStatus.ACTIVE.value


def _point(row: Row) -> Point:
    return Point(
        id=row["id"],
        session_id=row["session_id"],
        frame_index=row["frame_index"],
        x=row["x"],
        y=row["y"],
        added_by=row["added_by"],
        added_at=row["added_at"],
        ordinal=row["ordinal"],
    )


async def _require_active(tx: Tx, session_id: int) -> None:
    row = await tx.fetchone("SELECT status FROM sessions WHERE id = ?", (session_id,))
    if row is None or row["status"] != _ACTIVE:
        raise SessionNotActiveError(f"session {session_id} is not active")


async def _settle(tx: Tx, session_id: int) -> None:
    await tx.execute("UPDATE sessions SET selection_unsure = 0 WHERE id = ?", (session_id,))


class PointQueries(Database):
    async def add_points(
        self,
        session_id: int,
        frame_index: int,
        points: Sequence[tuple[float, float]],
        *,
        added_by: int,
        masks: Sequence[Any] | None = None,
        settle_selection: bool = False,
    ) -> list[Point]:
        """Add points on one frame, all or none, checking Kling's limits in the same transaction.

        ``masks`` (Kling's rle_mask_list for that frame) replaces the stored masks atomically
        with the insert; ``settle_selection`` clears the selection-unsure marker with it (the
        insert records Kling's answer). Raises :class:`PointLimitError` or
        :class:`SessionNotActiveError`.
        """
        if not points:
            raise ValueError("no points to add")
        now = self.now()

        async def body(tx: Tx) -> list[Point]:
            await _require_active(tx, session_id)
            _check_capacity(*await _capacity(tx, session_id, frame_index), len(points))
            row = await tx.fetchone(
                "SELECT COALESCE(MAX(ordinal), 0) AS last FROM points WHERE session_id = ?",
                (session_id,),
            )
            first = int(row["last"]) + 1 if row else 1
            await tx.executemany(
                "INSERT INTO points (session_id, frame_index, x, y, added_by, added_at,"
                " ordinal) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (session_id, frame_index, float(x), float(y), added_by, now, first + i)
                    for i, (x, y) in enumerate(points)
                ],
            )
            await replace_masks(tx, session_id, frame_index, masks, now)
            if settle_selection:
                await _settle(tx, session_id)
            rows = await tx.fetchall(
                "SELECT * FROM points WHERE session_id = ? AND ordinal >= ? ORDER BY ordinal",
                (session_id, first),
            )
            return [_point(r) for r in rows]

        return await self._write(body)

    async def check_point_capacity(self, session_id: int, frame_index: int, adding: int) -> None:
        """Raise :class:`PointLimitError` if ``adding`` points would not fit (call before Kling)."""
        row = await self._fetchone(_CAPACITY, (session_id, session_id, frame_index))
        _check_capacity(*_capacity_of(row), adding)

    async def list_points(self, session_id: int, frame_index: int | None = None) -> list[Point]:
        """Points in the order they were added (the replay order for a renewed Kling session)."""
        if frame_index is None:
            rows = await self._fetchall(
                "SELECT * FROM points WHERE session_id = ? ORDER BY ordinal", (session_id,)
            )
        else:
            rows = await self._fetchall(
                "SELECT * FROM points WHERE session_id = ? AND frame_index = ? ORDER BY ordinal",
                (session_id, frame_index),
            )
        return [_point(r) for r in rows]

    async def get_point(self, point_id: int) -> Point | None:
        row = await self._fetchone("SELECT * FROM points WHERE id = ?", (point_id,))
        return _point(row) if row else None

    async def last_point(self, session_id: int) -> Point | None:
        row = await self._fetchone(
            "SELECT * FROM points WHERE session_id = ? ORDER BY ordinal DESC LIMIT 1",
            (session_id,),
        )
        return _point(row) if row else None

    async def delete_point(
        self,
        session_id: int,
        point_id: int,
        *,
        masks: Sequence[Any] | None = None,
        settle_selection: bool = False,
    ) -> Point | None:
        """Delete one point of the session (and replace its frame's masks); None if absent.

        ``settle_selection`` clears the selection-unsure marker in the same transaction.
        """
        now = self.now()

        async def body(tx: Tx) -> Point | None:
            await _require_active(tx, session_id)
            row = await tx.fetchone(
                "SELECT * FROM points WHERE id = ? AND session_id = ?",
                (point_id, session_id),
            )
            if row is None:
                return None
            point = _point(row)
            await tx.execute("DELETE FROM points WHERE id = ?", (point_id,))
            await replace_masks(tx, session_id, point.frame_index, masks, now)
            if settle_selection:
                await _settle(tx, session_id)
            return point

        return await self._write(body)

    async def clear_points(self, session_id: int, *, settle_selection: bool = False) -> int:
        """Remove every point and mask of the session; returns how many points were removed.

        ``settle_selection`` clears the selection-unsure marker in the same transaction.
        """

        async def body(tx: Tx) -> int:
            await _require_active(tx, session_id)
            await tx.execute("DELETE FROM frame_masks WHERE session_id = ?", (session_id,))
            removed = await tx.execute("DELETE FROM points WHERE session_id = ?", (session_id,))
            if settle_selection:
                await _settle(tx, session_id)
            return removed

        return await self._write(body)


_CAPACITY = (
    "SELECT COUNT(*) AS on_frame,"
    " (SELECT COUNT(DISTINCT frame_index) FROM points WHERE session_id = ?) AS frames"
    " FROM points WHERE session_id = ? AND frame_index = ?"
)


async def _capacity(tx: Tx, session_id: int, frame_index: int) -> tuple[int, bool, int]:
    return _capacity_of(await tx.fetchone(_CAPACITY, (session_id, session_id, frame_index)))


def _capacity_of(row: Row | None) -> tuple[int, bool, int]:
    on_frame = int(row["on_frame"]) if row else 0
    frames = int(row["frames"]) if row else 0
    return on_frame, on_frame > 0, frames


def _check_capacity(on_frame: int, frame_marked: int | bool, frames: int, adding: int) -> None:
    if on_frame + adding > MAX_POINTS_PER_FRAME:
        raise PointLimitError(
            "points_per_frame", current=on_frame, maximum=MAX_POINTS_PER_FRAME, adding=adding
        )
    if adding and not frame_marked and frames + 1 > MAX_MARKED_FRAMES:
        raise PointLimitError("marked_frames", current=frames, maximum=MAX_MARKED_FRAMES, adding=1)
