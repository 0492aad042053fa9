"""SQL for editing sessions, their points and the masks Kling returned per frame."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import aiosqlite

from bot.storage.db import Database
from bot.storage.masks import replace_masks
from bot.storage.models import (
    MAX_MARKED_FRAMES,
    MAX_POINTS_PER_FRAME,
    NewSession,
    Point,
    PointLimitError,
    Session,
    SessionConflictError,
    SessionNotActiveError,
    SessionStatus,
    VideoInfo,
)

_ACTIVE = SessionStatus.ACTIVE.value


def _session(row: aiosqlite.Row) -> Session:
    return Session(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        created_by=row["created_by"],
        status=SessionStatus(row["status"]),
        video=VideoInfo(
            fps=row["fps"],
            width=row["width"],
            height=row["height"],
            total_frame=row["total_frame"],
            duration=row["duration"],
        ),
        source_message_id=row["source_message_id"],
        source_url=row["source_url"],
        source_attachment_id=row["source_attachment_id"],
        local_path=row["local_path"],
        kling_session_id=row["kling_session_id"],
        kling_expires_at=row["kling_expires_at"],
        normalized_video=row["normalized_video"],
        current_frame=row["current_frame"],
        board_message_id=row["board_message_id"],
        created_at=row["created_at"],
        ended_at=row["ended_at"],
        selection_unsure=bool(row["selection_unsure"]),
    )


def _point(row: aiosqlite.Row) -> Point:
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


async def _one(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> aiosqlite.Row | None:
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _require_active(conn: aiosqlite.Connection, session_id: int) -> None:
    row = await _one(conn, "SELECT status FROM sessions WHERE id = ?", (session_id,))
    if row is None or row["status"] != _ACTIVE:
        raise SessionNotActiveError(f"session {session_id} is not active")


async def _settle(conn: aiosqlite.Connection, session_id: int) -> None:
    await conn.execute("UPDATE sessions SET selection_unsure = 0 WHERE id = ?", (session_id,))


class SessionQueries(Database):
    # -- sessions --------------------------------------------------------------------------

    async def start_session(self, new: NewSession, *, replace: bool = False) -> Session:
        """Start the channel's session.

        Raises :class:`SessionConflictError` (carrying the existing session) when the channel
        already has one and ``replace`` is False; with ``replace`` the old one is ended in the
        same transaction.
        """
        now = self.now()

        async def body(conn: aiosqlite.Connection) -> Session:
            existing = await _one(
                conn,
                "SELECT * FROM sessions WHERE guild_id = ? AND channel_id = ? AND status = ?",
                (new.guild_id, new.channel_id, _ACTIVE),
            )
            if existing is not None:
                if not replace:
                    raise SessionConflictError(_session(existing))
                await conn.execute(
                    "UPDATE sessions SET status = 'ended', ended_at = ? WHERE id = ?",
                    (now, existing["id"]),
                )
            video = new.video
            cursor = await conn.execute(
                "INSERT INTO sessions (guild_id, channel_id, created_by, status,"
                " source_message_id, source_url, source_attachment_id, local_path,"
                " fps, width, height, total_frame, duration,"
                " kling_session_id, kling_expires_at, normalized_video, created_at)"
                " VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.guild_id, new.channel_id, new.created_by,
                    new.source_message_id, new.source_url, new.source_attachment_id,
                    new.local_path, video.fps, video.width, video.height, video.total_frame,
                    video.duration, new.kling_session_id, new.kling_expires_at,
                    new.normalized_video, now,
                ),
            )  # fmt: skip
            row = await _one(conn, "SELECT * FROM sessions WHERE id = ?", (cursor.lastrowid,))
            assert row is not None
            return _session(row)

        try:
            return await self._write(body)
        except sqlite3.IntegrityError:
            # Another process won the race for the channel between our check and insert.
            active = await self.get_active_session(new.guild_id, new.channel_id)
            if active is None:
                raise
            raise SessionConflictError(active) from None

    async def get_session(self, session_id: int) -> Session | None:
        row = await self._fetchone("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _session(row) if row else None

    async def get_active_session(self, guild_id: int, channel_id: int) -> Session | None:
        row = await self._fetchone(
            "SELECT * FROM sessions WHERE guild_id = ? AND channel_id = ? AND status = ?",
            (guild_id, channel_id, _ACTIVE),
        )
        return _session(row) if row else None

    async def get_session_by_board(self, board_message_id: int) -> Session | None:
        """The session whose board is this message (buttons on old boards carry only that)."""
        row = await self._fetchone(
            "SELECT * FROM sessions WHERE board_message_id = ? ORDER BY id DESC LIMIT 1",
            (board_message_id,),
        )
        return _session(row) if row else None

    async def end_session(self, session_id: int) -> bool:
        """End an active session; False when it was not active."""
        now = self.now()

        async def body(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE sessions SET status = 'ended', ended_at = ? WHERE id = ? AND status = ?",
                (now, session_id, _ACTIVE),
            )
            return cursor.rowcount == 1

        return await self._write(body)

    async def set_kling_session(
        self,
        session_id: int,
        *,
        kling_session_id: str,
        expires_at: float,
        normalized_video: str | None,
        masks_by_frame: Mapping[int, Sequence[Any]] | None = None,
        selection_unsure: bool | None = None,
    ) -> None:
        """Record a (new) Kling selection session, e.g. after the 24 h one expired.

        In the same transaction: with ``masks_by_frame`` (what replaying the points returned)
        every frame's masks are replaced by these; with ``selection_unsure`` the marker is set
        to it (False once the new session holds exactly the stored points).
        """
        now = self.now()
        unsure = None if selection_unsure is None else int(selection_unsure)

        async def body(conn: aiosqlite.Connection) -> None:
            cursor = await conn.execute(
                "UPDATE sessions SET kling_session_id = ?, kling_expires_at = ?,"
                " normalized_video = ?, selection_unsure = COALESCE(?, selection_unsure)"
                " WHERE id = ? AND status = ?",
                (kling_session_id, expires_at, normalized_video, unsure, session_id, _ACTIVE),
            )
            if cursor.rowcount != 1:
                raise SessionNotActiveError(f"session {session_id} is not active")
            if masks_by_frame is not None:
                await conn.execute("DELETE FROM frame_masks WHERE session_id = ?", (session_id,))
                for frame_index, masks in masks_by_frame.items():
                    await replace_masks(conn, session_id, frame_index, masks, now)

        await self._write(body)

    async def mark_selection_unsure(self, session_id: int) -> None:
        """Say, before a call that changes Kling's clicks, that its outcome is not recorded yet.

        Raises :class:`SessionNotActiveError` (nothing should be sent to Kling then).
        """
        await self._update_session(session_id, "selection_unsure = 1", ())

    async def settle_selection(self, session_id: int) -> None:
        """Clear the marker: Kling's clicks are known to equal the stored points again (e.g. a
        call that Kling certainly refused). Ended sessions are left alone."""
        await self._write_statement(
            "UPDATE sessions SET selection_unsure = 0 WHERE id = ? AND status = ?",
            (session_id, _ACTIVE),
        )

    async def set_source_video(
        self,
        session_id: int,
        *,
        message_id: int | None,
        url: str | None,
        attachment_id: int | None,
        local_path: str | None,
    ) -> None:
        await self._update_session(
            session_id,
            "source_message_id = ?, source_url = ?, source_attachment_id = ?, local_path = ?",
            (message_id, url, attachment_id, local_path),
        )

    async def set_current_frame(self, session_id: int, frame_index: int) -> None:
        await self._update_session(session_id, "current_frame = ?", (frame_index,))

    async def set_board_message(self, session_id: int, message_id: int | None) -> None:
        await self._update_session(session_id, "board_message_id = ?", (message_id,))

    async def _update_session(
        self, session_id: int, assignments: str, params: tuple[Any, ...]
    ) -> None:
        # ``assignments`` is always a literal from this module, never user text.
        sql = f"UPDATE sessions SET {assignments} WHERE id = ? AND status = ?"  # noqa: S608

        async def body(conn: aiosqlite.Connection) -> None:
            cursor = await conn.execute(sql, (*params, session_id, _ACTIVE))
            if cursor.rowcount != 1:
                raise SessionNotActiveError(f"session {session_id} is not active")

        await self._write(body)

    # -- points ----------------------------------------------------------------------------

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

        async def body(conn: aiosqlite.Connection) -> list[Point]:
            await _require_active(conn, session_id)
            _check_capacity(*await self._capacity(conn, session_id, frame_index), len(points))
            row = await _one(
                conn,
                "SELECT COALESCE(MAX(ordinal), 0) AS last FROM points WHERE session_id = ?",
                (session_id,),
            )
            first = int(row["last"]) + 1 if row else 1
            await conn.executemany(
                "INSERT INTO points (session_id, frame_index, x, y, added_by, added_at,"
                " ordinal) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (session_id, frame_index, float(x), float(y), added_by, now, first + i)
                    for i, (x, y) in enumerate(points)
                ],
            )
            await replace_masks(conn, session_id, frame_index, masks, now)
            if settle_selection:
                await _settle(conn, session_id)
            async with conn.execute(
                "SELECT * FROM points WHERE session_id = ? AND ordinal >= ? ORDER BY ordinal",
                (session_id, first),
            ) as cursor:
                return [_point(r) for r in await cursor.fetchall()]

        return await self._write(body)

    async def check_point_capacity(self, session_id: int, frame_index: int, adding: int) -> None:
        """Raise :class:`PointLimitError` if ``adding`` points would not fit (call before Kling)."""
        async with self._lock:
            counts = await self._capacity(self._conn, session_id, frame_index)
        _check_capacity(*counts, adding)

    @staticmethod
    async def _capacity(
        conn: aiosqlite.Connection, session_id: int, frame_index: int
    ) -> tuple[int, bool, int]:
        row = await _one(
            conn,
            "SELECT COUNT(*) AS on_frame,"
            " (SELECT COUNT(DISTINCT frame_index) FROM points WHERE session_id = ?) AS frames"
            " FROM points WHERE session_id = ? AND frame_index = ?",
            (session_id, session_id, frame_index),
        )
        on_frame = int(row["on_frame"]) if row else 0
        frames = int(row["frames"]) if row else 0
        return on_frame, on_frame > 0, frames

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
        self, session_id: int, point_id: int, *, masks: Sequence[Any] | None = None,
        settle_selection: bool = False,
    ) -> Point | None:
        """Delete one point of the session (and replace its frame's masks); None if absent.

        ``settle_selection`` clears the selection-unsure marker in the same transaction.
        """
        now = self.now()

        async def body(conn: aiosqlite.Connection) -> Point | None:
            await _require_active(conn, session_id)
            row = await _one(
                conn,
                "SELECT * FROM points WHERE id = ? AND session_id = ?",
                (point_id, session_id),
            )
            if row is None:
                return None
            point = _point(row)
            await conn.execute("DELETE FROM points WHERE id = ?", (point_id,))
            await replace_masks(conn, session_id, point.frame_index, masks, now)
            if settle_selection:
                await _settle(conn, session_id)
            return point

        return await self._write(body)

    async def clear_points(self, session_id: int, *, settle_selection: bool = False) -> int:
        """Remove every point and mask of the session; returns how many points were removed.

        ``settle_selection`` clears the selection-unsure marker in the same transaction.
        """

        async def body(conn: aiosqlite.Connection) -> int:
            await _require_active(conn, session_id)
            await conn.execute("DELETE FROM frame_masks WHERE session_id = ?", (session_id,))
            cursor = await conn.execute("DELETE FROM points WHERE session_id = ?", (session_id,))
            if settle_selection:
                await _settle(conn, session_id)
            return cursor.rowcount

        return await self._write(body)


def _check_capacity(on_frame: int, frame_marked: int | bool, frames: int, adding: int) -> None:
    if on_frame + adding > MAX_POINTS_PER_FRAME:
        raise PointLimitError(
            "points_per_frame", current=on_frame, maximum=MAX_POINTS_PER_FRAME, adding=adding
        )
    if adding and not frame_marked and frames + 1 > MAX_MARKED_FRAMES:
        raise PointLimitError("marked_frames", current=frames, maximum=MAX_MARKED_FRAMES, adding=1)
