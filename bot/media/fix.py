"""Making a video Kling accepts: trim, rescale, change frame rate, re-encode, turn upright."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from bot.i18n import Joined, Msg
from bot.media.errors import MediaError
from bot.media.probe import VideoInfo, probe_video
from bot.media.rules import (
    DURATION_WINDOWS,
    check_video,
    duration_window,
    fitted_size,
    format_fps,
    format_seconds,
    nearest_allowed_fps,
)
from bot.media.transcode import EncodePlan, transcode


@dataclass(frozen=True)
class FixReport:
    """The fixed file, what was changed (sentences for the user), and the fixed file's probe."""

    path: Path
    changes: list[Msg]  # each a str (English) that renders in any locale
    info: VideoInfo


def _target_window(duration_s: float) -> tuple[float, float]:
    window = duration_window(duration_s)
    if window is not None:
        return window
    short_low, short_high = DURATION_WINDOWS[0]
    long_low, long_high = DURATION_WINDOWS[-1]
    if duration_s < short_low:
        raise MediaError(
            Msg(
                "The video is {seconds} s long; Kling needs at least {min} s, and a video cannot"
                " be made longer.",
                seconds=format_seconds(duration_s),
                min=f"{short_low:g}",
            )
        )
    # Too long for a window: trim to whichever end keeps more of the video.
    return (long_low, long_high) if duration_s > long_high else (short_low, short_high)


def _changes(
    info: VideoInfo, size: tuple[int, int], out_fps: Fraction, frame_count: int, high: float
) -> list[Msg]:
    """What fixing does to the video, in the order a person would check it."""
    changes: list[Msg] = []
    if info.duration_s > high:
        changes.append(
            Msg(
                "Trimmed from {seconds} s to {new_seconds} s (the start is kept).",
                seconds=format_seconds(info.duration_s),
                new_seconds=f"{float(frame_count / out_fps):g}",
            )
        )
    if size != (info.width, info.height):
        changes.append(
            Msg(
                "Resized from {width}x{height} to {new_width}x{new_height} px.",
                width=info.width,
                height=info.height,
                new_width=size[0],
                new_height=size[1],
            )
        )
    if float(out_fps) != info.fps:
        changes.append(
            Msg(
                "Changed the frame rate from {fps} to {new_fps} fps.",
                fps=format_fps(info.fps),
                new_fps=int(out_fps),
            )
        )
    if info.rotation:
        changes.append(
            Msg(
                "Turned the picture upright (it was stored rotated by {degrees}°).",
                degrees=info.rotation,
            )
        )
    if info.container != "mp4" or info.codec != "h264":
        changes.append(
            Msg(
                "Converted from {container} ({codec}) to MP4 (H.264).",
                container=info.container.upper(),
                codec=info.codec,
            )
        )
    else:
        changes.append(Msg("Re-encoded as H.264 MP4."))
    if info.has_audio:
        changes.append(Msg("Removed the sound (Kling edits the picture only)."))
    return changes


def fix_video(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], info: VideoInfo
) -> FixReport:
    """Re-encode `src` into an MP4 at `dst` that passes check_video, or raise MediaError.

    Always produces H.264 yuv420p MP4 with the rotation applied to the pixels; trims to 5 s or
    10 s (whichever keeps more), fits each side into 720–2160 px keeping the aspect, and moves
    the frame rate to the nearest of 24/30/60. Audio is dropped (Kling edits the picture only).
    """
    src, dst = Path(src), Path(dst)
    unfixable = [v.message for v in check_video(info) if not v.fixable]
    if unfixable:
        raise MediaError(Joined(unfixable))
    low, high = _target_window(info.duration_s)
    size = fitted_size(info.width, info.height)
    if size is None:
        raise MediaError(
            Msg(
                "The video's shape ({width}x{height} px) cannot be fitted.",
                width=info.width,
                height=info.height,
            )
        )
    out_fps = Fraction(nearest_allowed_fps(info.fps))
    kept_s = min(info.duration_s, high)
    frame_count = round(kept_s * out_fps)
    frame_count = min(max(frame_count, math.ceil(low * out_fps)), math.floor(high * out_fps))

    changes = _changes(info, size, out_fps, frame_count, high)

    plan = EncodePlan(
        fps=out_fps, frame_count=frame_count, width=size[0], height=size[1], rotation=info.rotation
    )
    transcode(src, dst, plan)
    fixed = probe_video(dst)
    remaining = check_video(fixed)
    if remaining:
        dst.unlink(missing_ok=True)
        raise MediaError(
            Msg(
                "The video could not be fixed: {problems}",
                problems=Joined(v.message for v in remaining),
            )
        )
    return FixReport(path=dst, changes=changes, info=fixed)
