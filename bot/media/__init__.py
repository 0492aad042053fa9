"""Video and image handling on PyAV and Pillow: probe, check, fix, frames, reference images."""

from bot.media.errors import MediaError
from bot.media.fix import FixReport, fix_video
from bot.media.frames import FrameExtractor, apply_rotation, extract_frame, frame_time
from bot.media.probe import VideoInfo, probe_video
from bot.media.rules import RuleViolation, check_video, edit_duration_for
from bot.media.writer import exact_rate, write_mp4

__all__ = [
    "FixReport",
    "FrameExtractor",
    "MediaError",
    "RuleViolation",
    "VideoInfo",
    "apply_rotation",
    "check_video",
    "edit_duration_for",
    "exact_rate",
    "extract_frame",
    "fix_video",
    "frame_time",
    "probe_video",
    "write_mp4",
]
