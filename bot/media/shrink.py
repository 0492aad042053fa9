"""Re-encoding a finished video so it fits an upload limit."""

from __future__ import annotations

import math
import os
import shutil
from fractions import Fraction
from pathlib import Path

from bot.media.errors import MediaError
from bot.media.probe import probe_video
from bot.media.rules import nearest_allowed_fps
from bot.media.transcode import EncodePlan, transcode

# MP4 headers and the sample index grow with the frame count; keep this much aside for them.
_CONTAINER_OVERHEAD_BYTES = 16_000
_CONTAINER_OVERHEAD_PER_FRAME = 16
# Rate control overshoots a little; aim this fraction below the limit.
_BITRATE_HEADROOM = 0.9
# Below this many bits per pixel per frame H.264 turns to mush: trade resolution instead.
_MIN_BITS_PER_PIXEL = 0.04
_MIN_SHORT_SIDE = 240
_MIN_BIT_RATE = 64_000
_ATTEMPTS = 3


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def shrink_video(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], max_bytes: int
) -> Path | None:
    """Write a copy of `src` no bigger than `max_bytes` to `dst`; None if it cannot fit.

    A file that already fits is copied unchanged. Otherwise the video is re-encoded at a bit
    rate computed from its duration and the limit, smaller in size when that rate would be too
    low for its resolution. Audio is not kept. Blocking; run it in a worker thread.
    """
    src, dst = Path(src), Path(dst)
    info = probe_video(src)
    if info.size_bytes <= max_bytes:
        if src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        return dst
    fps = info.fps if info.fps <= 60 else float(nearest_allowed_fps(info.fps))
    rate = Fraction(fps).limit_denominator(1001)
    frame_count = max(1, round(info.duration_s * fps))
    overhead = _CONTAINER_OVERHEAD_BYTES + _CONTAINER_OVERHEAD_PER_FRAME * frame_count
    budget_bytes = (max_bytes - overhead) * _BITRATE_HEADROOM
    bit_rate = int(budget_bytes * 8 / info.duration_s)
    for _ in range(_ATTEMPTS):
        if bit_rate < _MIN_BIT_RATE:
            return None
        pixels_per_second = info.width * info.height * fps
        scale = min(1.0, math.sqrt(bit_rate / (_MIN_BITS_PER_PIXEL * pixels_per_second)))
        width, height = _even(info.width * scale), _even(info.height * scale)
        if min(width, height) < _MIN_SHORT_SIDE:
            return None
        plan = EncodePlan(
            fps=rate,
            frame_count=frame_count,
            width=width,
            height=height,
            rotation=info.rotation,
            bit_rate=bit_rate,
            x264_options={
                "maxrate": str(bit_rate),
                "bufsize": str(bit_rate),
                "nal-hrd": "none",
            },
        )
        try:
            transcode(src, dst, plan)
        except MediaError:
            dst.unlink(missing_ok=True)
            raise
        size = dst.stat().st_size
        if size <= max_bytes:
            return dst
        # Overshot: lower the rate in proportion, with a margin, and try again.
        bit_rate = int(bit_rate * max_bytes / size * 0.9)
    dst.unlink(missing_ok=True)
    return None
