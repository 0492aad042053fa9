"""Plain records returned by :class:`bot.storage.Store`, plus the storage-level errors.

Nothing here touches the database; these are frozen snapshots of rows. Timestamps are Unix seconds
(UTC, float). Discord ids are ints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.errors import as_text
from bot.i18n import Msg, Text

# Kling's selection limits (reference §2.3): enforced by the store so no path can exceed them.
MAX_POINTS_PER_FRAME = 10
MAX_MARKED_FRAMES = 10


class StorageError(Exception):
    """Base class of the errors a caller is expected to handle and explain to a user."""

    user_message: str

    @property
    def message(self) -> Text:
        """``user_message`` as a translatable :class:`~bot.i18n.Text`."""
        return as_text(self.user_message)


class SessionConflictError(StorageError):
    """The channel already has an active session; ``existing`` is it (ask before replacing)."""

    def __init__(self, existing: Session) -> None:
        self.existing = existing
        self.user_message = Msg(
            "This channel already has an editing session. End it with `/kling end`, or confirm"
            " that you want to replace it."
        )
        super().__init__(f"channel {existing.channel_id} already has active session {existing.id}")


class SessionNotActiveError(StorageError):
    """The session was ended (or never existed); nothing was changed."""

    user_message = Msg("This editing session has ended; start a new one with `/kling edit`.")


class PointLimitError(StorageError):
    """Adding the points would break a Kling limit; nothing was stored.

    ``limit`` is ``"points_per_frame"`` or ``"marked_frames"``; ``current`` is what is stored now.
    """

    def __init__(self, limit: str, *, current: int, maximum: int, adding: int) -> None:
        self.limit = limit
        self.current = current
        self.maximum = maximum
        self.adding = adding
        if limit == "marked_frames":
            self.user_message = Msg(
                "Kling allows at most {max} marked frames and {current} are marked already;"
                " mark a frame that already has points, or undo the points of another frame.",
                max=maximum,
                current=current,
            )
        else:
            self.user_message = Msg(
                "Kling allows at most {max} points per frame; this frame has {current}, so"
                " {adding} more will not fit. Undo a point first.",
                max=maximum,
                current=current,
                adding=adding,
            )
        super().__init__(f"{limit}: {current} stored + {adding} new > {maximum}")


class QuotaExceededError(StorageError):
    """Creating the job would break a server limit; nothing was stored.

    ``limit`` is ``"daily_jobs_per_member"`` or ``"concurrent_jobs_per_guild"``; ``resets_at`` is
    when the daily count starts over (Unix time), None for the concurrency limit (it frees up as
    running jobs finish).
    """

    def __init__(self, limit: str, *, current: int, maximum: int, resets_at: float | None) -> None:
        self.limit = limit
        self.current = current
        self.maximum = maximum
        self.resets_at = resets_at
        if limit == "daily_jobs_per_member":
            self.user_message = (
                Msg(
                    "You have used all {max} of your jobs for today on this server. The count"
                    " starts over <t:{resets_at}:R>.",
                    max=maximum,
                    resets_at=int(resets_at),
                )
                if resets_at
                else Msg(
                    "You have used all {max} of your jobs for today on this server.", max=maximum
                )
            )
        else:
            self.user_message = Msg(
                "This server is already running {current} of its {max} jobs at once;"
                " try again when one of them has finished.",
                current=current,
                max=maximum,
            )
        super().__init__(f"{limit}: {current} of {maximum}")


class SessionStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class JobKind(StrEnum):
    EDIT_REMOVAL = "edit_removal"
    EDIT_SWAP = "edit_swap"
    EDIT_ADDITION = "edit_addition"
    ANIMATE = "animate"


class JobState(StrEnum):
    QUEUED = "queued"  # waiting locally; nothing sent to Kling (or Kling said 1303)
    SUBMITTING = "submitting"  # a create may have been sent; reconcile before resending
    SUBMITTED = "submitted"  # Kling accepted it (task id known)
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"  # Kling finished; the result is not posted yet
    FAILED = "failed"
    DELIVERING = "delivering"  # the delivery was claimed; a post may be in flight
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def accepted_by_kling(self) -> bool:
        return self in _ACCEPTED


_TERMINAL = frozenset({JobState.FAILED, JobState.DELIVERED, JobState.CANCELLED})
_ACCEPTED = frozenset(
    {
        JobState.SUBMITTED,
        JobState.PROCESSING,
        JobState.SUCCEEDED,
        JobState.DELIVERING,
        JobState.DELIVERED,
    }
)
IN_FLIGHT_STATES = tuple(s for s in JobState if not s.is_terminal)


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    width: int
    height: int
    total_frame: int
    duration: float  # seconds


@dataclass(frozen=True)
class NewSession:
    """What a caller knows when starting a session (the Kling fields may come later)."""

    guild_id: int
    channel_id: int
    created_by: int
    video: VideoInfo
    source_message_id: int | None = None
    source_url: str | None = None
    source_attachment_id: int | None = None
    local_path: str | None = None
    kling_session_id: str | None = None
    kling_expires_at: float | None = None
    normalized_video: str | None = None


@dataclass(frozen=True)
class Session:
    id: int
    guild_id: int
    channel_id: int
    created_by: int
    status: SessionStatus
    video: VideoInfo
    source_message_id: int | None
    source_url: str | None
    source_attachment_id: int | None
    local_path: str | None
    kling_session_id: str | None
    kling_expires_at: float | None
    normalized_video: str | None
    current_frame: int
    board_message_id: int | None
    created_at: float
    ended_at: float | None
    # Kling's selection may hold clicks the points table lacks (or lack stored ones): a
    # selection-changing call was sent and its outcome never recorded.
    selection_unsure: bool = False

    @property
    def is_active(self) -> bool:
        return self.status is SessionStatus.ACTIVE


@dataclass(frozen=True)
class Point:
    id: int
    session_id: int
    frame_index: int
    x: float
    y: float
    added_by: int
    added_at: float
    ordinal: int  # order of addition within the session: the replay order


@dataclass(frozen=True)
class NewJob:
    kind: JobKind
    guild_id: int
    channel_id: int
    requester_id: int
    request: dict[str, Any]  # everything needed to (re)submit; image refs are file paths
    session_id: int | None = None
    job_id: str | None = None  # generated (uuid4 hex) when omitted


@dataclass(frozen=True)
class JobLimits:
    """Limits checked atomically with the insert of a new job (None: no limit)."""

    daily_jobs_per_member: int | None = None
    concurrent_jobs_per_guild: int | None = None

    @classmethod
    def from_settings(cls, settings: GuildSettings) -> JobLimits:
        return cls(settings.daily_jobs_per_member, settings.concurrent_jobs_per_guild)


@dataclass(frozen=True)
class Job:
    id: str  # also Kling's external_task_id
    kind: JobKind
    guild_id: int
    channel_id: int
    requester_id: int
    session_id: int | None
    request: dict[str, Any]
    state: JobState
    kling_task_id: str | None
    status_msg: str | None
    card_message_id: int | None
    queued_at: float | None
    submit_attempts: int
    units: float | None
    result_url: str | None
    result_path: str | None
    result_message_id: int | None
    delivery_key: str | None
    delivery_attempts: int
    created_at: float
    submitted_at: float | None
    finished_at: float | None
    delivered_at: float | None
    updated_at: float
    seq: int = 0  # insertion order (SQLite rowid): breaks ties between equal timestamps

    @property
    def external_task_id(self) -> str:
        return self.id


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    from_state: JobState | None
    to_state: JobState
    at: float
    detail: str | None


@dataclass(frozen=True)
class GuildSettings:
    """A server's settings (SPEC §8). ``None`` limits mean "no limit"; no role means everyone."""

    guild_id: int
    submit_role_id: int | None = None
    daily_jobs_per_member: int | None = 10
    concurrent_jobs_per_guild: int | None = 3
    default_mode: str = "std"
    pro_allowed: bool = True
    confirm_submits: bool = True
    sessions_in_threads: bool = False
    disabled_channels: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class UsageCounts:
    jobs_today: int = 0
    jobs_month: int = 0
    units_today: float = 0.0
    units_month: float = 0.0


@dataclass(frozen=True)
class MemberUsage:
    user_id: int
    usage: UsageCounts


@dataclass(frozen=True)
class GuildUsage:
    total: UsageCounts
    members: tuple[MemberUsage, ...]  # most jobs this month first
