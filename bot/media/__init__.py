"""Video and image handling on PyAV and Pillow: probe, check, fix, frames, reference images."""

from bot.media.errors import MediaError
from bot.media.frames import FrameExtractor, apply_rotation, extract_frame, frame_time
from bot.media.probe import VideoInfo, probe_video
from bot.media.writer import exact_rate, write_mp4

__all__ = [
    "FrameExtractor",
    "MediaError",
    "VideoInfo",
    "apply_rotation",
    "exact_rate",
    "extract_frame",
    "frame_time",
    "probe_video",
    "write_mp4",
]
