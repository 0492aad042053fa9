"""What the Discord layer shows, as plain data: built by the editing service, drawn by cogs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.media import VideoInfo
from bot.media.rules import RuleViolation


@dataclass(frozen=True)
class PointView:
    id: int  # storage id: what undo and autocomplete carry
    number: int  # 1-based position on its frame, the number drawn on the board
    frame_index: int
    x: float
    y: float
    added_by: int  # Discord user id


@dataclass(frozen=True)
class BoardView:
    """Everything the board message shows (SPEC §3)."""

    session_id: int
    image: bytes  # the rendered board (JPEG unless image_format says otherwise)
    image_format: str
    frame_index: int
    total_frames: int
    fps: float
    time_s: float
    points_on_frame: tuple[PointView, ...]
    marked_frames: tuple[tuple[int, int], ...]  # (frame_index, point count), by frame
    contributors: tuple[tuple[int, int], ...]  # (user id, points added), most first
    expires_at: float | None  # unix time the Kling session expires (None before it exists)
    grid: str  # e.g. "columns A–J, rows 1–6" (a bot.i18n.Msg: render it in the reader's locale)
    max_frames: int = 10
    max_points_per_frame: int = 10
    # Taken just before the stored state was read: of two boards of a session, the one with the
    # larger stamp shows every change the other shows (the Discord layer never puts an older
    # drawing over a newer one).
    stamp: int = 0

    @property
    def total_points(self) -> int:
        return sum(count for _, count in self.marked_frames)


@dataclass(frozen=True)
class VideoCheck:
    """A local video checked against Kling's rules before Kling sees it (SPEC §6)."""

    path: Path
    info: VideoInfo | None  # None when the file is not a readable video
    violations: tuple[RuleViolation, ...] = ()
    unreadable_reason: str | None = None  # a bot.i18n.Text where it came from this project

    @property
    def ok(self) -> bool:
        return self.info is not None and not self.violations

    @property
    def fixable(self) -> bool:
        return (
            self.info is not None
            and bool(self.violations)
            and all(v.fixable for v in self.violations)
        )


@dataclass(frozen=True)
class PreviewFiles:
    video: Path | None
    cover: Path | None
    video_url: str | None
    cover_url: str | None


@dataclass(frozen=True)
class SubmitPlan:
    """A paid job ready to send, shown to the submitter for confirmation first (SPEC §5)."""

    session_id: int | None  # None for animate
    guild_id: int
    channel_id: int
    requester_id: int
    kind: str  # a bot.storage.JobKind value
    prompt: str  # exactly as it will be sent to Kling
    negative_prompt: str | None
    mode: str  # "std" | "pro"
    duration: str  # "5" | "10"
    image_paths: tuple[Path, ...]  # normalised reference images, saved under media_dir
    marked_frames: tuple[tuple[int, int], ...] = ()
    aspect_ratio: str | None = None  # animate only
    # e.g. "image.webp: Converted from WEBP to PNG." (bot.i18n.Text: render in the reader's locale)
    notes: tuple[str, ...] = field(default=())
