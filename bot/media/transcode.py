"""The one re-encoding loop behind fix_video and shrink_video.

Input frames are resampled onto a constant output frame rate by time (each output frame shows
the input frame on screen at that moment), scaled, turned upright, and encoded as H.264 yuv420p
in MP4 with the index at the front (faststart) so it streams. Audio is not carried over.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.error

from bot.i18n import Msg
from bot.media.errors import MediaError

# A hair of slack so an input frame exactly on an output tick counts as "on screen" there.
_TICK_SLACK = Fraction(1, 1_000_000)


@dataclass(frozen=True)
class EncodePlan:
    """What the output should be. `width`/`height` are display (upright) dimensions."""

    fps: Fraction
    frame_count: int
    width: int
    height: int
    rotation: int
    x264_options: dict[str, str] = field(default_factory=lambda: {"crf": "20"})
    bit_rate: int | None = None
    preset: str = "veryfast"


def _timed_frames(
    container: av.container.InputContainer,
) -> Iterator[tuple[Fraction, av.VideoFrame]]:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    start = stream.start_time or 0
    time_base = stream.time_base
    if time_base is None:  # FFmpeg gives every demuxed stream one; a broken file may not
        raise RuntimeError("the video stream has no time base")
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        yield (frame.pts - start) * time_base, frame


_ROTATION_FILTERS: dict[int, list[tuple[str, str]]] = {
    0: [],
    90: [("transpose", "cclock")],
    180: [("hflip", ""), ("vflip", "")],
    270: [("transpose", "clock")],
}


class _Upright:
    """An FFmpeg filter graph that scales a decoded frame and turns it upright, in yuv420p.

    FFmpeg's transpose works on the planes directly, several times faster than going
    through RGB arrays in numpy.
    """

    def __init__(self, plan: EncodePlan) -> None:
        self._plan = plan
        self._graph: av.filter.Graph | None = None

    def _build(self, frame: av.VideoFrame) -> av.filter.Graph:
        plan = self._plan
        quarter_turn = plan.rotation in (90, 270)
        coded_w, coded_h = (plan.height, plan.width) if quarter_turn else (plan.width, plan.height)
        graph = av.filter.Graph()
        node = graph.add_buffer(
            width=frame.width,
            height=frame.height,
            format=frame.format,
            time_base=frame.time_base or Fraction(1, 1000),
        )
        steps = [("scale", f"{coded_w}:{coded_h}"), ("format", "yuv420p")]
        steps += _ROTATION_FILTERS[plan.rotation]
        for name, args in steps:
            step = graph.add(name, args) if args else graph.add(name)
            node.link_to(step)
            node = step
        sink = graph.add("buffersink")
        node.link_to(sink)
        graph.configure()
        return graph

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self._graph is None:
            self._graph = self._build(frame)
        self._graph.push(frame)
        result = self._graph.pull()
        if not isinstance(result, av.VideoFrame):  # a video-only graph: never audio
            raise RuntimeError(f"the video filter graph gave a {type(result).__name__}")
        return result


def transcode(src: Path, dst: Path, plan: EncodePlan) -> int:
    """Encode `plan.frame_count` frames of `src` into `dst`; returns the frames written."""
    if plan.frame_count <= 0:
        raise MediaError(Msg("There is nothing left of the video to encode."))
    try:
        source = av.open(str(src), mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(Msg("The video cannot be opened for re-encoding.")) from exc
    dst.parent.mkdir(parents=True, exist_ok=True)
    output = av.open(str(dst), mode="w", format="mp4", options={"movflags": "+faststart"})
    try:
        with source:
            written = _encode_frames(source, output, plan)
    except av.error.FFmpegError as exc:
        output.close()
        dst.unlink(missing_ok=True)
        raise MediaError(Msg("The video could not be re-encoded; the file looks damaged.")) from exc
    except BaseException:
        output.close()
        dst.unlink(missing_ok=True)
        raise
    output.close()
    return written


def _encode_frames(
    source: av.container.InputContainer, output: av.container.OutputContainer, plan: EncodePlan
) -> int:
    stream = output.add_stream("libx264", rate=plan.fps)
    stream.width, stream.height = plan.width, plan.height
    stream.pix_fmt = "yuv420p"
    stream.time_base = 1 / plan.fps
    stream.codec_context.gop_size = max(1, round(float(plan.fps)))
    if plan.bit_rate is not None:
        stream.bit_rate = plan.bit_rate
    stream.options = {"preset": plan.preset, **plan.x264_options}

    # The muxer may change stream.time_base once the header is written; frames keep 1/fps.
    frame_time_base = 1 / plan.fps
    upright = _Upright(plan)
    written = 0
    current: av.VideoFrame | None = None
    converted: av.VideoFrame | None = None

    def emit(frame: av.VideoFrame) -> None:
        nonlocal written
        frame.pts = written
        frame.time_base = frame_time_base
        for packet in stream.encode(frame):
            output.mux(packet)
        written += 1

    for time_s, frame in _timed_frames(source):
        # Output ticks before this frame appears show the previous frame.
        while (
            written < plan.frame_count
            and current is not None
            and (written / plan.fps + _TICK_SLACK < time_s)
        ):
            converted = converted or upright(current)
            emit(converted)
        if written >= plan.frame_count:
            break
        current, converted = frame, None
    if current is None:
        raise MediaError(Msg("The video has no frames that can be decoded."))
    while written < plan.frame_count:
        converted = converted or upright(current)
        emit(converted)
    for packet in stream.encode():
        output.mux(packet)
    return written
