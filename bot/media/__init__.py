"""Video and image handling on PyAV and Pillow: probe, check, fix, frames, reference images."""

from bot.media.errors import MediaError
from bot.media.fix import FixReport, fix_video
from bot.media.frames import FrameExtractor, apply_rotation, extract_frame, frame_time
from bot.media.images import ReferenceImage, normalise_reference_image, to_base64
from bot.media.probe import VideoInfo, probe_video
from bot.media.rules import RuleViolation, check_video, edit_duration_for
from bot.media.shrink import shrink_video
from bot.media.writer import exact_rate, write_mp4

__all__ = [
    "FixReport",
    "FrameExtractor",
    "MediaError",
    "ReferenceImage",
    "RuleViolation",
    "VideoInfo",
    "apply_rotation",
    "check_video",
    "edit_duration_for",
    "exact_rate",
    "extract_frame",
    "fix_video",
    "frame_time",
    "normalise_reference_image",
    "probe_video",
    "shrink_video",
    "to_base64",
    "write_mp4",
]
