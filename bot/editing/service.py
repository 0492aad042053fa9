"""The editing workflow without Discord: sessions, marking, preview and submitting (SPEC §2–§7).

The cogs parse an interaction, call one method here, and render what comes back. Every method
that calls Kling takes that session's Kling lock (bot.editing.locks), so two members marking at
the same moment never interleave Kling calls; moving the board's frame takes none. Every user
mistake raises an error carrying a `user_message`.

CONTRACT (the lead wrote these signatures; the implementer fills them in and may add private
helpers and modules under bot/editing/, but keeps these names and meanings so the cogs, built in
parallel, fit). plan_edit, plan_animate (added) and submit live in bot/editing/submitting.py
and mark_points, undo, clear and point_choices in marking.py (mixins of this class, to keep
modules short); board drawing in boards.py, Kling session renewal in renewal.py, prompt
templates in planning.py, file work in media_steps.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bot.editing import media_steps
from bot.editing.boards import build_board, session_dir
from bot.editing.locks import SessionLocks
from bot.editing.marking import Marking
from bot.editing.redraw import BoardRedraws
from bot.editing.renewal import SelectionKeeper
from bot.editing.submitting import SESSION_ENDED, PaidJobs
from bot.editing.views import BoardView, PreviewFiles, VideoCheck
from bot.errors import UserFacingError
from bot.i18n import Msg
from bot.jobs.runner import JobRunner
from bot.kling import KlingClient
from bot.media.fix import FixReport
from bot.storage import (
    NewSession,
    Session,
    SessionConflictError,
    SessionNotActiveError,
    Store,
)
from bot.storage import VideoInfo as StoredVideoInfo

log = logging.getLogger(__name__)

# Given a session, return a URL Kling can fetch its source video from right now (the Discord
# layer re-reads the board message, whose attachment URL is refreshed by Discord).
FreshVideoUrl = Callable[[Session], Awaitable[str]]

NO_SESSION = Msg("There is no editing session in this channel. Start one with `/kling edit`.")
# The language of a session's board image, from the session (its server's locale).
BoardLocale = Callable[[Session], object]
_board_stamps = itertools.count(1)


class EditingService(Marking, PaidJobs):
    def __init__(
        self,
        store: Store,
        client: KlingClient,
        runner: JobRunner,
        *,
        http: aiohttp.ClientSession,
        media_dir: Path,
        fresh_video_url: FreshVideoUrl | None = None,
        clock: Callable[[], float] = time.time,
        board_locale: BoardLocale | None = None,
    ) -> None:
        """``board_locale`` gives the language of a session's board image (its caption): the
        board is a channel message, so the server's locale; English when not given."""
        self.store = store
        self.client = client
        self.runner = runner
        self.http = http
        self.media_dir = Path(media_dir)
        self.clock = clock
        self.locks = SessionLocks()
        self.selections = SelectionKeeper(store, client, clock, fresh_video_url)
        self.board_locale = board_locale
        # Boards are drawn after the session's lock is let go (the next member's Kling call
        # need not wait for a drawing), one drawing serving every change that waits for it.
        self.redraws = BoardRedraws(self._draw_stored)

    async def _build_board(self, session: Session) -> BoardView:
        locale = self.board_locale(session) if self.board_locale is not None else None
        stamp = next(_board_stamps)  # before reading: see BoardView.stamp
        board = await build_board(self.store, session, self.media_dir, locale=locale)
        return dataclasses.replace(board, stamp=stamp)

    # ----- videos -----

    async def download_video(self, url: str, *, user_supplied: bool) -> Path:
        """Stream `url` into media_dir with a byte cap and a time limit. When `user_supplied`,
        apply SPEC §6 URL rules (http(s) only; no private, loopback or link-local address after
        DNS resolution and on every redirect). Raises UserFacingError naming the problem."""
        return await media_steps.download_video(
            self.http, url, self.media_dir, public_only=user_supplied
        )

    async def check_video(self, path: Path) -> VideoCheck:
        """Probe and check against Kling's rules (in a worker thread)."""
        return await media_steps.check_video(path)

    async def fix_video(self, path: Path) -> FixReport:
        """Trim / rescale / re-encode into a file that passes; raises UserFacingError if not."""
        return await media_steps.fix_video(path, self.media_dir)

    # ----- sessions -----

    async def open_session(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        video: Path,
        video_url: str,
        source_message_id: int | None = None,
        source_attachment_id: int | None = None,
        replace: bool = False,
    ) -> BoardView:
        """Start this channel's session: init-selection on `video_url` (the re-hosted copy),
        store it, and return the first board (frame 0). Raises SessionConflictError (with the
        existing session) when one is active and not `replace`."""
        if not replace:
            existing = await self.store.get_active_session(guild_id, channel_id)
            if existing is not None:
                raise SessionConflictError(existing)  # before spending a Kling call
        info = await media_steps.probe(video)
        local = await media_steps.keep_copy(video, self.media_dir)
        selection = await self.client.init_selection(video_url=video_url)
        stored = StoredVideoInfo(
            fps=selection.fps or info.fps,
            width=info.width,
            height=info.height,
            total_frame=selection.total_frame or info.frame_count,
            duration=(selection.original_duration / 1000.0)
            if selection.original_duration
            else info.duration_s,
        )
        session = await self.store.start_session(
            NewSession(
                guild_id=guild_id,
                channel_id=channel_id,
                created_by=user_id,
                video=stored,
                source_message_id=source_message_id,
                source_url=video_url,
                source_attachment_id=source_attachment_id,
                local_path=str(local),
                kling_session_id=selection.session_id,
                kling_expires_at=self.selections.expires_at(),
                normalized_video=selection.normalized_video,
            ),
            replace=replace,
        )
        return await self._build_board(session)

    async def active_session(self, guild_id: int, channel_id: int) -> Session | None:
        return await self.store.get_active_session(guild_id, channel_id)

    async def require_session(self, guild_id: int, channel_id: int) -> Session:
        """The active session, or UserFacingError("There is no editing session in this
        channel. Start one with `/kling edit`.")."""
        session = await self.store.get_active_session(guild_id, channel_id)
        if session is None:
            raise UserFacingError(NO_SESSION)
        return session

    async def set_board_message(self, session_id: int, message_id: int) -> None:
        async with self.locks.for_session(session_id):
            await self._active(session_id)
            await self.store.set_board_message(session_id, message_id)

    async def end_session(self, session_id: int) -> None:
        async with self.locks.for_session(session_id):
            await self.store.end_session(session_id)

    async def board(self, session_id: int) -> BoardView:
        """The board of the session's current frame (masks as last returned by Kling)."""
        session = await self._session(session_id)
        return await self._build_board(session)

    async def goto_frame(
        self,
        session_id: int,
        *,
        frame: int | None = None,
        time_text: str | None = None,
        delta: int | None = None,
    ) -> BoardView:
        """Move the board (absolute frame, a time such as "1.5s", or ±delta, clamped).

        No Kling call, so no wait on the session's Kling lock: the frame is one atomic write
        (a relative move adds to the stored frame), and marks finishing later leave it there."""
        session = await self._active(session_id)
        try:
            if delta is not None and frame is None and not time_text:
                target = await self.store.move_current_frame(session_id, delta)
            else:
                target = self._frame_ref(session, frame, time_text, default=None)
                await self.store.set_current_frame(session_id, target)
        except SessionNotActiveError as error:
            raise UserFacingError(SESSION_ENDED) from error
        self.locks.frame_moved(session_id)
        return await self._board(session_id, target)

    async def mark(
        self,
        session_id: int,
        *,
        points: str,
        user_id: int,
        frame: int | None = None,
        time_text: str | None = None,
    ) -> BoardView:
        """Parse SPEC §4 points on one frame (default: the board's frame), check the limits,
        call add-selection with the exact floats, store points and returned masks, move the
        board to that frame. No point is stored when anything fails; when Kling's answer was
        lost the session stays marked unsure and the next action replays the stored points.
        A member who moves the board while the mark waits for Kling keeps the board there."""
        target = await self.mark_points(
            session_id, points=points, user_id=user_id, frame=frame, time_text=time_text
        )
        return await self._board(session_id, target)

    async def board_after(self, session_id: int, frame_index: int) -> BoardView:
        """The board on ``frame_index`` after a change stored by `mark_points`."""
        return await self._board(session_id, frame_index)

    async def preview(self, session_id: int) -> PreviewFiles:
        """preview-selection; the video and cover downloaded into media_dir."""
        async with self.locks.for_session(session_id):
            session = await self._active(session_id)
            if await self.store.last_point(session_id) is None:
                raise UserFacingError(
                    Msg("Mark an object first; the preview shows what Kling tracks.")
                )
            # Kling previews its own selection: make it the stored one first.
            session = await self.selections.in_step(session)
            session, result = await self.selections.call(session, self.client.preview_selection)
        folder = session_dir(self.media_dir, session_id) / f"preview-{uuid.uuid4().hex[:12]}"
        video = await media_steps.fetch_result(self.http, result.video, folder / "preview.mp4")
        cover = await media_steps.fetch_result(
            self.http,
            result.video_cover,
            folder / ("cover" + media_steps.suffix_of(result.video_cover, ".png")),
        )
        return PreviewFiles(
            video=video, cover=cover, video_url=result.video, cover_url=result.video_cover
        )

    # ----- internals -----

    async def _session(self, session_id: int) -> Session:
        session = await self.store.get_session(session_id)
        if session is None:
            raise UserFacingError(SESSION_ENDED)
        return session

    async def _active(self, session_id: int) -> Session:
        session = await self._session(session_id)
        if not session.is_active:
            raise UserFacingError(SESSION_ENDED)
        return session

    async def _board(self, session_id: int, frame_index: int) -> BoardView:
        """The board on ``frame_index`` after a change that is stored: the latest drawing
        that shows it."""
        return await self.redraws.latest(session_id, frame_index)

    async def _draw_stored(self, session_id: int, frame_index: int) -> BoardView:
        session = await self._session(session_id)
        return await self._build_board(dataclasses.replace(session, current_frame=frame_index))
