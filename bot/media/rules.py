"""Kling's input-video rules, checked against a probed video.

Decisions (see also VideoInfo):
- Durations: Kling's official windows are 2–5 s and 7–10 s. We allow DURATION_TOLERANCE_S on
  each edge because NTSC clips of whole seconds run 0.1 % long (150 frames at 29.97 fps last
  5.005 s); anything visibly outside (e.g. 5.1 s) is refused.
- Frame rate: 24, 30 or 60 fps, each within FPS_TOLERANCE (relative). That accepts the NTSC
  rates 23.976, 29.97 and 59.94, which is what phones and editors write when they say "30 fps";
  25 or 50 fps are refused (and fixable).
- Size: each side 720–2160 px. The rule is symmetric, so rotation cannot change the verdict; we
  measure and report display dimensions (after rotation), which is what the user sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from bot.i18n import Msg
from bot.media.errors import MediaError
from bot.media.probe import VideoInfo

ALLOWED_CONTAINERS = ("mp4", "mov")
DURATION_WINDOWS: tuple[tuple[float, float], ...] = ((2.0, 5.0), (7.0, 10.0))
DURATION_TOLERANCE_S = 0.02
MIN_SIDE = 720
MAX_SIDE = 2160
ALLOWED_FPS = (24, 30, 60)
FPS_TOLERANCE = 0.005
ASPECT_SQUEEZE = 0.01


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule: `rule` is a stable key, `message` is for the user."""

    rule: Literal["container", "duration", "dimensions", "fps"]
    message: Msg
    fixable: bool


def format_seconds(value: float) -> str:
    """Seconds with one decimal, or more when one decimal would look like a limit (5.04 → 5.04)."""
    text = f"{value:.1f}"
    limits = {low for low, _ in DURATION_WINDOWS} | {high for _, high in DURATION_WINDOWS}
    if float(text) in limits and not math.isclose(value, float(text), abs_tol=1e-9):
        text = f"{value:.3f}".rstrip("0")
    return text


def format_fps(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def duration_window(duration_s: float) -> tuple[float, float] | None:
    """The window of Kling's that `duration_s` falls in, or None."""
    for low, high in DURATION_WINDOWS:
        if low - DURATION_TOLERANCE_S <= duration_s <= high + DURATION_TOLERANCE_S:
            return low, high
    return None


def allowed_fps(fps: float) -> int | None:
    """The Kling frame rate `fps` counts as (24, 30 or 60), or None."""
    for target in ALLOWED_FPS:
        if abs(fps - target) <= FPS_TOLERANCE * target:
            return target
    return None


def nearest_allowed_fps(fps: float) -> int:
    return min(ALLOWED_FPS, key=lambda target: (abs(fps - target), target))


def side_in_range(side: int) -> bool:
    return MIN_SIDE <= side <= MAX_SIDE


def fitted_size(width: int, height: int) -> tuple[int, int] | None:
    """Even display size with both sides in 720–2160 px, keeping the aspect; None if impossible.

    Shapes just past 3:1 (e.g. 2161x720) are squeezed by at most ASPECT_SQUEEZE rather than
    refused; nobody sees a 1 % change of shape.
    """
    short, long = min(width, height), max(width, height)
    if short <= 0 or long / short > MAX_SIDE / MIN_SIDE * (1 + ASPECT_SQUEEZE):
        return None
    scale = 1.0
    if short < MIN_SIDE:
        scale = MIN_SIDE / short
    elif long > MAX_SIDE:
        scale = MAX_SIDE / long

    def even(side: float) -> int:
        return min(MAX_SIDE, max(MIN_SIDE, 2 * round(side / 2)))

    return even(width * scale), even(height * scale)


def too_long_or_short(duration_s: float) -> Msg:
    return Msg(
        "The video is {seconds} s long; Kling accepts 2–5 s or 7–10 s.",
        seconds=format_seconds(duration_s),
    )


def check_video(info: VideoInfo) -> list[RuleViolation]:
    """Every Kling rule `info` breaks, one violation per rule, in a stable order."""
    violations: list[RuleViolation] = []
    if info.container not in ALLOWED_CONTAINERS:
        violations.append(
            RuleViolation(
                "container",
                Msg(
                    "The video is a {container} file; Kling accepts MP4 or MOV.",
                    container=info.container.upper(),
                ),
                fixable=True,
            )
        )
    if duration_window(info.duration_s) is None:
        violations.append(
            RuleViolation(
                "duration",
                too_long_or_short(info.duration_s),
                fixable=info.duration_s > DURATION_WINDOWS[0][1],
            )
        )
    if not (side_in_range(info.width) and side_in_range(info.height)):
        violations.append(
            RuleViolation(
                "dimensions",
                Msg(
                    "The video is {width}x{height} px; Kling needs each side between {min} and"
                    " {max} px.",
                    width=info.width,
                    height=info.height,
                    min=MIN_SIDE,
                    max=MAX_SIDE,
                ),
                fixable=fitted_size(info.width, info.height) is not None,
            )
        )
    if allowed_fps(info.fps) is None:
        violations.append(
            RuleViolation(
                "fps",
                Msg(
                    "The video runs at {fps} fps; Kling accepts 24, 30 or 60 fps.",
                    fps=format_fps(info.fps),
                ),
                fixable=True,
            )
        )
    return violations


def edit_duration_for(info: VideoInfo) -> Literal["5", "10"]:
    """Kling's `duration` for an edit of this video: "5" for 2–5 s input, "10" for 7–10 s."""
    window = duration_window(info.duration_s)
    if window is None:
        raise MediaError(too_long_or_short(info.duration_s))
    return "5" if window == DURATION_WINDOWS[0] else "10"
