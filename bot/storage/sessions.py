"""SQL for editing sessions (their points are in points.py, their masks in masks.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.storage.db import Database, Row, Tx
from bot.storage.masks import replace_masks
from bot.storage.models import (
    NewSession,
    Session,
    SessionConflictError,
    SessionNotActiveError,
    SessionStatus,
    VideoInfo,
)

_ACTIVE = SessionStatus.ACTIVE.value


def _session(row: Row) -> Session:
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


class SessionQueries(Database):
    # -- sessions --------------------------------------------------------------------------

    async def start_session(self, new: NewSession, *, replace: bool = False) -> Session:
        """Start the channel's session.

        Raises :class:`SessionConflictError` (carrying the existing session) when the channel
        already has one and ``replace`` is False; with ``replace`` the old one is ended in the
        same transaction.
        """
        now = self.now()

        async def body(tx: Tx) -> Session:
            existing = await tx.fetchone(
                "SELECT * FROM sessions WHERE guild_id = ? AND channel_id = ? AND status = ?",
                (new.guild_id, new.channel_id, _ACTIVE),
            )
            if existing is not None:
                if not replace:
                    raise SessionConflictError(_session(existing))
                await tx.execute(
                    "UPDATE sessions SET status = 'ended', ended_at = ? WHERE id = ?",
                    (now, existing["id"]),
                )
            video = new.video
            row = await tx.fetchone(
                "INSERT INTO sessions (guild_id, channel_id, created_by, status,"
                " source_message_id, source_url, source_attachment_id, local_path,"
                " fps, width, height, total_frame, duration,"
                " kling_session_id, kling_expires_at, normalized_video, created_at)"
                " VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    new.guild_id, new.channel_id, new.created_by,
                    new.source_message_id, new.source_url, new.source_attachment_id,
                    new.local_path, video.fps, video.width, video.height, video.total_frame,
                    video.duration, new.kling_session_id, new.kling_expires_at,
                    new.normalized_video, now,
                ),
            )  # fmt: skip
            if row is None:  # an INSERT … RETURNING always returns its row
                raise RuntimeError("the new session could not be read back")
            return _session(row)

        try:
            return await self._write(body)
        except self._backend.integrity_errors:
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

        async def body(tx: Tx) -> bool:
            changed = await tx.execute(
                "UPDATE sessions SET status = 'ended', ended_at = ? WHERE id = ? AND status = ?",
                (now, session_id, _ACTIVE),
            )
            return changed == 1

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

        async def body(tx: Tx) -> None:
            changed = await tx.execute(
                "UPDATE sessions SET kling_session_id = ?, kling_expires_at = ?,"
                " normalized_video = ?, selection_unsure = COALESCE(?, selection_unsure)"
                " WHERE id = ? AND status = ?",
                (kling_session_id, expires_at, normalized_video, unsure, session_id, _ACTIVE),
            )
            if changed != 1:
                raise SessionNotActiveError(f"session {session_id} is not active")
            if masks_by_frame is not None:
                await tx.execute("DELETE FROM frame_masks WHERE session_id = ?", (session_id,))
                for frame_index, masks in masks_by_frame.items():
                    await replace_masks(tx, session_id, frame_index, masks, now)

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

    async def move_current_frame(self, session_id: int, delta: int) -> int:
        """Move the board ``delta`` frames (clamped to the video) in one statement, so two
        members clicking ▶ +1 at once move it two frames; returns the frame it is on now."""
        # CASE, not SQLite's scalar MAX/MIN (PostgreSQL spells them GREATEST/LEAST).
        rows = await self._write_statement(
            "UPDATE sessions SET current_frame = CASE"
            " WHEN current_frame + ? >= total_frame THEN"
            " CASE WHEN total_frame > 0 THEN total_frame - 1 ELSE 0 END"
            " WHEN current_frame + ? < 0 THEN 0 ELSE current_frame + ? END"
            " WHERE id = ? AND status = ? RETURNING current_frame",
            (delta, delta, delta, session_id, _ACTIVE),
        )
        if not rows:
            raise SessionNotActiveError(f"session {session_id} is not active")
        return int(rows[0][0])

    async def set_board_message(self, session_id: int, message_id: int | None) -> None:
        await self._update_session(session_id, "board_message_id = ?", (message_id,))

    async def _update_session(
        self, session_id: int, assignments: str, params: tuple[Any, ...]
    ) -> None:
        # ``assignments`` is always a literal from this module, never user text.
        sql = f"UPDATE sessions SET {assignments} WHERE id = ? AND status = ?"  # noqa: S608

        async def body(tx: Tx) -> None:
            if await tx.execute(sql, (*params, session_id, _ACTIVE)) != 1:
                raise SessionNotActiveError(f"session {session_id} is not active")

        await self._write(body)
