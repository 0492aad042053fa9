"""The editing workflow without Discord: sessions, marking, preview and submitting (SPEC §2–§7).

The cogs parse an interaction, call one method here, and render what comes back. Every method
that changes a session takes that session's lock, so two members marking at the same moment
never interleave Kling calls; every user mistake raises an error carrying a `user_message`.

CONTRACT (the lead wrote these signatures; the implementer fills them in and may add private
helpers and modules under bot/editing/, but keeps these names and meanings so the cogs, built in
parallel, fit):
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bot.editing.views import BoardView, PreviewFiles, SubmitPlan, VideoCheck
from bot.jobs.runner import JobRunner
from bot.kling import KlingClient
from bot.media.fix import FixReport
from bot.storage import Job, Session, Store

# Given a session, return a URL Kling can fetch its source video from right now (the Discord
# layer re-reads the board message, whose attachment URL is refreshed by Discord).
FreshVideoUrl = Callable[[Session], Awaitable[str]]


class EditingService:
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
    ) -> None:
        raise NotImplementedError

    # ----- videos -----

    async def download_video(self, url: str, *, user_supplied: bool) -> Path:
        """Stream `url` into media_dir with a byte cap and a time limit. When `user_supplied`,
        apply SPEC §6 URL rules (http(s) only; no private, loopback or link-local address after
        DNS resolution and on every redirect). Raises UserFacingError naming the problem."""
        raise NotImplementedError

    async def check_video(self, path: Path) -> VideoCheck:
        """Probe and check against Kling's rules (in a worker thread)."""
        raise NotImplementedError

    async def fix_video(self, path: Path) -> FixReport:
        """Trim / rescale / re-encode into a file that passes; raises UserFacingError if not."""
        raise NotImplementedError

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
        raise NotImplementedError

    async def active_session(self, guild_id: int, channel_id: int) -> Session | None:
        raise NotImplementedError

    async def require_session(self, guild_id: int, channel_id: int) -> Session:
        """The active session, or UserFacingError("There is no editing session in this
        channel. Start one with `/kling edit`.")."""
        raise NotImplementedError

    async def set_board_message(self, session_id: int, message_id: int) -> None:
        raise NotImplementedError

    async def end_session(self, session_id: int) -> None:
        raise NotImplementedError

    async def board(self, session_id: int) -> BoardView:
        """The board of the session's current frame (masks as last returned by Kling)."""
        raise NotImplementedError

    async def goto_frame(
        self, session_id: int, *, frame: int | None = None, time_text: str | None = None,
        delta: int | None = None,
    ) -> BoardView:
        """Move the board (absolute frame, a time such as "1.5s", or ±delta, clamped)."""
        raise NotImplementedError

    async def mark(
        self, session_id: int, *, points: str, user_id: int, frame: int | None = None,
        time_text: str | None = None,
    ) -> BoardView:
        """Parse SPEC §4 points on one frame (default: the board's frame), check the limits,
        call add-selection with the exact floats, store points and returned masks, move the
        board to that frame. Nothing changes when anything fails."""
        raise NotImplementedError

    async def undo(
        self, session_id: int, *, user_id: int, point_id: int | None = None
    ) -> BoardView:
        """delete-selection with the stored floats of `point_id` (default: the last added)."""
        raise NotImplementedError

    async def clear(self, session_id: int, *, user_id: int) -> BoardView:
        raise NotImplementedError

    async def point_choices(self, session_id: int, typed: str) -> list[tuple[str, int]]:
        """Autocomplete for /kling undo: (label such as "#3 on frame 12 at C4 by <name id>",
        point id), at most 25, filtered by `typed`."""
        raise NotImplementedError

    async def preview(self, session_id: int) -> PreviewFiles:
        """preview-selection; the video and cover downloaded into media_dir."""
        raise NotImplementedError

    # ----- paid jobs -----

    async def plan_edit(
        self,
        session_id: int,
        *,
        kind: str,
        prompt: str,
        user_id: int,
        images: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        negative_prompt: str | None = None,
        mode: str | None = None,
    ) -> SubmitPlan:
        """Validate everything that can be checked locally and build the plan: the prompt from
        the mode's template unless the user wrote <<<video_1>>> tokens; image count per mode;
        reference images normalised (SPEC §6) and saved; duration from the video length; mode
        defaulted from the server settings. Raises UserFacingError; spends nothing."""
        raise NotImplementedError

    async def submit(self, plan: SubmitPlan) -> Job:
        """Create the job (quotas checked atomically) and hand it to the runner; the job id is
        sent as Kling's external_task_id."""
        raise NotImplementedError
