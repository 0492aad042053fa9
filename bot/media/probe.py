"""Reading what a video file is: container, codec, timing, size, rotation.

Probing never decodes more than the first frame: timing and frame counts come from the
container's sample index, which MP4/MOV keep in the header.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import av.error

from bot.i18n import Msg
from bot.media.errors import MediaError

# MP4 and MOV share one FFmpeg demuxer; the major brand tells them apart.
_MOV_BRANDS = frozenset({"qt"})
_3GP_PREFIXES = ("3g",)
# Still-image demuxers also expose a "video" stream; a single picture is not a video.
_IMAGE_FORMAT_SUFFIXES = ("_pipe",)
_IMAGE_FORMATS = frozenset({"image2", "gif", "apng", "webp"})
# Relative spread of frame durations above which a stream counts as variable frame rate.
_VFR_SPREAD = 0.02


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, as the viewer sees it.

    `width`/`height` are display dimensions, i.e. after `rotation` is applied.
    `rotation` is the counter-clockwise turn (0, 90, 180 or 270 degrees) the player applies to
    the stored pixels, read from the display matrix. `frame_count_exact` says whether
    `frame_count` was counted from the sample index (True) or estimated from duration x fps.
    """

    path: Path
    container: str
    codec: str
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    frame_count_exact: bool
    rotation: int
    has_audio: bool
    variable_frame_rate: bool
    size_bytes: int

    @property
    def coded_width(self) -> int:
        """Width of the stored pixels, before rotation."""
        return self.height if self.rotation in (90, 270) else self.width

    @property
    def coded_height(self) -> int:
        """Height of the stored pixels, before rotation."""
        return self.width if self.rotation in (90, 270) else self.height


def _container_name(fmt_name: str, brand: str, path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if fmt_name.startswith("mov,mp4"):
        brand = brand.strip().lower()
        if brand in _MOV_BRANDS:
            return "mov"
        if brand.startswith(_3GP_PREFIXES):
            return "3gp"
        if brand:
            return "mp4"
        return "mov" if suffix == "mov" else "mp4"
    if fmt_name.startswith("matroska"):
        return "webm" if suffix == "webm" else "mkv"
    return fmt_name.split(",")[0]


def _is_still_image_format(fmt_name: str) -> bool:
    first = fmt_name.split(",")[0]
    return first in _IMAGE_FORMATS or first.endswith(_IMAGE_FORMAT_SUFFIXES)


def _frame_rate(stream: av.video.stream.VideoStream, duration_s: float, frames: int) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    if duration_s > 0 and frames > 0:
        return frames / duration_s
    raise MediaError(Msg("The video does not say how many frames per second it has."))


def _is_variable_rate(timestamps: Sequence[int]) -> bool:
    if len(timestamps) < 3:
        return False
    deltas = [b - a for a, b in pairwise(timestamps)]
    # The last sample's duration is not in the index; ignore it and zero-length glitches.
    deltas = [d for d in deltas if d > 0]
    if not deltas:
        return False
    low, high = min(deltas), max(deltas)
    return (high - low) > _VFR_SPREAD * high and (high - low) > 1


def _first_frame_rotation(container: av.container.InputContainer, stream_index: int) -> int:
    """Decode the first frame: proves the stream decodes and yields the display rotation."""
    stream = container.streams.video[stream_index]
    try:
        for frame in container.decode(stream):
            return round(frame.rotation) % 360
    except av.error.FFmpegError as exc:
        raise MediaError(
            Msg("The video's frames cannot be decoded; the file looks damaged.")
        ) from exc
    raise MediaError(Msg("The video has no frames that can be decoded; the file looks damaged."))


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe the video at `path`, or raise MediaError saying why it is not a usable video."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError(
            Msg("The video file {name} cannot be opened.", name=repr(path.name))
        ) from exc
    if size == 0:
        raise MediaError(Msg("The video file is empty (0 bytes)."))
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(
            Msg(
                "The file is not a video that can be read (it may be damaged, cut short, "
                "or a different kind of file)."
            )
        ) from exc
    with container:
        fmt_name = container.format.name
        if _is_still_image_format(fmt_name) or not container.streams.video:
            raise MediaError(Msg("The file has no video in it."))
        stream = container.streams.video[0]
        time_base = stream.time_base or Fraction(1, 1)
        duration_s = 0.0
        if stream.duration:
            duration_s = float(stream.duration * time_base)
        elif container.duration:
            duration_s = container.duration / av.time_base
        # MP4/MOV list every sample in the header; other containers index keyframes at most.
        entries = stream.index_entries if fmt_name.startswith("mov,mp4") else None
        indexed = len(entries) if entries is not None else 0
        if entries is not None and indexed:
            end_of_data = max(e.pos + e.size for e in entries)
            if end_of_data > size:
                raise MediaError(
                    Msg("The video file is cut short (truncated); please upload it again.")
                )
        frame_count = stream.frames or indexed
        frame_count_exact = frame_count > 0
        fps = _frame_rate(stream, duration_s, frame_count)
        if not frame_count_exact:
            frame_count = max(1, round(duration_s * fps))
        if duration_s <= 0 and frame_count_exact:
            duration_s = frame_count / fps
        if duration_s <= 0:
            raise MediaError(Msg("The video's length cannot be read; the file looks damaged."))
        variable = (
            _is_variable_rate(sorted(e.timestamp for e in entries))
            if entries is not None and indexed
            else False
        )
        codec = stream.codec_context.name
        coded_w, coded_h = stream.codec_context.width, stream.codec_context.height
        if not coded_w or not coded_h:
            raise MediaError(
                Msg("The video's picture size cannot be read; the file looks damaged.")
            )
        rotation = _first_frame_rotation(container, 0)
        rotation = (round(rotation / 90) * 90) % 360
        quarter_turn = rotation in (90, 270)
        return VideoInfo(
            path=path,
            container=_container_name(fmt_name, container.metadata.get("major_brand", ""), path),
            codec=codec,
            duration_s=duration_s,
            fps=fps,
            width=coded_h if quarter_turn else coded_w,
            height=coded_w if quarter_turn else coded_h,
            frame_count=frame_count,
            frame_count_exact=frame_count_exact,
            rotation=rotation,
            has_audio=bool(container.streams.audio),
            variable_frame_rate=variable,
            size_bytes=size,
        )
