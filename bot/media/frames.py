"""Getting frame N of a video quickly: seek to the keyframe before it, decode forward, cache.

"Frame N" is the frame on screen at time N / fps (fps being the stream's average rate), which for
a constant-frame-rate video is exactly the Nth frame. This matches how Kling maps `frame_index`
to a time offset. Frames are returned in display orientation (rotation metadata applied).
Everything here blocks; call it from a worker thread (asyncio.to_thread) in async code.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from PIL import Image

from bot.i18n import Msg
from bot.media.errors import MediaError

_TRANSPOSE_FOR_ROTATION = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}
# PNG level 1: a 4K frame saves in a fraction of the time of the default level.
_PNG_COMPRESS_LEVEL = 1
# At most this many videos are decoded at once in the process (boards, pickers, the web page).
# A decode holds its own buffers (a 4K frame is 12 MiB as YUV and 25 MiB as RGB, plus the
# decoder's reference frames): with 200 members acting at once, unbounded decodes would all hold
# them together and all finish late together. More decodes than cores buy no throughput.
DECODE_SLOTS = max(1, os.cpu_count() or 1)
_decoding = threading.BoundedSemaphore(DECODE_SLOTS)
# Slice threads, not frame threads: frame threads (one per core) are started, and the decoder's
# state copied to each, on every open, for one frame's answer. On 2 cores a 720p frame, decoded
# and in RGB, costs 10-12 ms of CPU (frame threads: 12-13); a 4K frame 60 frames into its group
# takes 0.10 s (bench/bench_frames.py).
DECODER_THREADS = "SLICE"


def frame_time(index: int, fps: float) -> float:
    """Seconds from the start of the video at which frame `index` is shown."""
    if fps <= 0:
        raise MediaError(Msg("A frame rate must be positive, not {fps}.", fps=fps))
    return index / fps


def apply_rotation(image: Image.Image, rotation: int) -> Image.Image:
    """Turn stored pixels counter-clockwise by `rotation` degrees, as a player would."""
    transpose = _TRANSPOSE_FOR_ROTATION.get(round(rotation / 90) * 90 % 360)
    return image.transpose(transpose) if transpose is not None else image


def rgb_pixels(frame: av.VideoFrame) -> np.ndarray:
    """The frame as an (h, w, 3) RGB array in display orientation.

    PyAV's array, not its ``to_image``: the same pixels (one colour conversion either way), but
    ``to_image`` then copies them line by line into a new picture with the interpreter lock
    held, 5 ms of a 720p frame's 6 where the array costs 0.5 (and Pillow takes it in 1)."""
    pixels = frame.to_ndarray(format="rgb24")
    turns = round(frame.rotation / 90) % 4
    # Counter-clockwise quarter turns, like apply_rotation. Contiguous: a frame whose rows
    # PyAV pads comes as a view of the padded buffer, which would be kept whole.
    return np.ascontiguousarray(np.rot90(pixels, turns) if turns else pixels)


def _rgb(frame: av.VideoFrame) -> Image.Image:
    """The frame as an RGB image in display orientation."""
    return Image.fromarray(rgb_pixels(frame), "RGB")


@dataclass(frozen=True)
class DecodedFrame:
    """A decoded frame (its decoder's buffers, valid after the video is closed and on any one
    thread) before it is turned into RGB."""

    frame: av.VideoFrame

    def image(self) -> Image.Image:
        """The frame as an RGB picture in display orientation."""
        return _rgb(self.frame)

    def pixels(self) -> np.ndarray:
        """The frame as an (h, w, 3) RGB array in display orientation."""
        return rgb_pixels(self.frame)


class FrameExtractor:
    """Frames of one video, with an optional on-disk cache shared by later requests.

    `cache_dir` must belong to this one video (e.g. the session's folder): files in it are
    named by frame index only.
    """

    def __init__(self, path: str | os.PathLike[str], cache_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None

    def cache_path(self, index: int) -> Path | None:
        """Where frame `index` is (or would be) cached, or None without a cache."""
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"frame-{index:06d}.png"

    def get(self, index: int, *, keep: bool = True) -> Image.Image:
        """Frame `index` as an RGB image in display orientation. ``keep=False`` reads the cache
        but does not add to it (a caller keeping its own, smaller copy saves the PNG encode)."""
        if index < 0:
            raise MediaError(
                Msg("Frame {index} does not exist; frames are numbered from 0.", index=index)
            )
        cached = self.cache_path(index)
        if cached is not None and cached.is_file():
            with Image.open(cached) as stored:
                return stored.convert("RGB")
        with _decoding:
            image = self._decode(index)
        if cached is not None and keep:
            self._store(cached, image)
        return image

    def _store(self, target: Path, image: Image.Image) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half a PNG.
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".png.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                image.save(handle, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def around(self, index: int, *, before: bool = False, after: int = 1) -> dict[int, Image.Image]:
        """Frame `index` and its neighbours from one decode, by index: with `before`, the frame
        before it (decoded on the way to it anyway), and up to `after` frames following it (one
        frame's decode each), so that stepping through the video does not seek and decode again
        from the keyframe for every step. Reads and writes no cache; bounded like `get`."""
        return {
            number: decoded.image()
            for number, decoded in self.decoded_around(index, before=before, after=after).items()
        }

    def decoded_around(
        self, index: int, *, before: bool = False, after: int = 1
    ) -> dict[int, DecodedFrame]:
        """`around`, with each frame not yet turned into an RGB picture: that costs more than
        decoding it, and a neighbour's can wait until after the answer that needs `index`."""
        if index < 0:
            raise MediaError(
                Msg("Frame {index} does not exist; frames are numbered from 0.", index=index)
            )
        with _decoding:
            return self._decode_run(index, before, after)

    def _decode(self, index: int) -> Image.Image:
        return self._decode_run(index, False, 0)[index].image()

    def _decode_run(self, index: int, before: bool, after: int) -> dict[int, DecodedFrame]:
        try:
            container = av.open(str(self.path), mode="r")
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(Msg("The video cannot be opened to read a frame.")) from exc
        with container:
            if not container.streams.video:
                raise MediaError(Msg("The file has no video in it."))
            stream = container.streams.video[0]
            stream.thread_type = DECODER_THREADS
            total = stream.frames
            if total and index >= total:
                raise MediaError(
                    Msg(
                        "Frame {index} does not exist; the video has {total} frames (0–{last}).",
                        index=index,
                        total=total,
                        last=total - 1,
                    )
                )
            rate = stream.average_rate or stream.guessed_rate
            if not rate or not stream.time_base:
                raise MediaError(Msg("The video does not say how many frames per second it has."))
            ticks_per_frame = 1 / (Fraction(rate) * stream.time_base)
            start = stream.start_time or 0
            target = start + index * ticks_per_frame
            # Accept the frame whose timestamp is nearest the target (within half a frame).
            earliest = target - ticks_per_frame / 2
            try:
                frame, previous, rest = self._seek_and_find(
                    container, stream, int(target), earliest, ticks_per_frame
                )
                if frame is None and target > start:
                    # The seek landed past the target (sparse index): decode from the start.
                    frame, previous, rest = self._seek_and_find(
                        container, stream, start, earliest, ticks_per_frame
                    )
            except av.error.FFmpegError as exc:
                raise MediaError(
                    Msg("The video's frames cannot be decoded; it looks damaged.")
                ) from exc
            if frame is None:
                raise MediaError(
                    Msg("Frame {index} does not exist; the video ends before it.", index=index)
                )

            def number(found: av.VideoFrame) -> int:
                return round((Fraction(found.pts or 0) - start) / ticks_per_frame)

            images = {index: DecodedFrame(frame)}
            if before and previous is not None and number(previous) == index - 1:
                images[index - 1] = DecodedFrame(previous)
            # Neighbours are a bonus: a damaged or missing one ends the run, not the answer.
            wanted = index + 1
            with contextlib.suppress(av.error.FFmpegError):
                for following in rest if after else ():
                    if following.pts is None:
                        continue
                    if wanted > index + after or number(following) != wanted:
                        break
                    images[wanted] = DecodedFrame(following)
                    wanted += 1
            return images

    @staticmethod
    def _seek_and_find(
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        seek_pts: int,
        earliest: Fraction,
        ticks_per_frame: Fraction,
    ) -> tuple[av.VideoFrame | None, av.VideoFrame | None, Iterator[av.VideoFrame]]:
        """Seek and decode forward to the first frame at or after `earliest`; with it, the
        frame decoded just before it (if any) and the decoder, to go on from there.

        The frame is None when the very first decoded frame is already past the target window,
        meaning the seek overshot and the caller must start earlier.
        """
        container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
        decoded = container.decode(stream)
        previous: av.VideoFrame | None = None
        for frame in decoded:
            if frame.pts is None:
                continue
            if frame.pts >= earliest:
                if previous is None and frame.pts >= earliest + ticks_per_frame:
                    return None, None, decoded
                return frame, previous, decoded
            previous = frame
        return None, None, decoded


def extract_frame(
    path: str | os.PathLike[str], index: int, cache_dir: Path | None = None
) -> Image.Image:
    """Frame `index` of the video at `path` as an RGB image (see FrameExtractor)."""
    return FrameExtractor(path, cache_dir).get(index)
