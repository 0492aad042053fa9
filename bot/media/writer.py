"""Encoding frames into a real H.264 video file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from bot.media.errors import MediaError

Frame = np.ndarray | Image.Image


def exact_rate(fps: float | Fraction) -> Fraction:
    """The rational frame rate for `fps`; 23.976, 29.97 and 59.94 become their NTSC fractions."""
    if isinstance(fps, Fraction):
        return fps
    if fps <= 0:
        raise MediaError(f"A frame rate must be positive, not {fps}.")
    for base in (24, 30, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(fps - float(ntsc)) < 0.006:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


def _as_rgb_array(frame: Frame) -> np.ndarray:
    if isinstance(frame, Image.Image):
        return np.asarray(frame.convert("RGB"))
    array = np.asarray(frame)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise MediaError(f"A frame must be HxWx3 RGB, not shape {array.shape}.")
    if array.shape[2] == 4:
        array = array[:, :, :3]
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def _pad_to_even(array: np.ndarray) -> np.ndarray:
    pad_h, pad_w = array.shape[0] % 2, array.shape[1] % 2
    if not (pad_h or pad_w):
        return array
    return np.pad(array, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def write_mp4(
    frames: Iterable[Frame],
    path: str | os.PathLike[str],
    fps: float | Fraction,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
    rotation: int = 0,
) -> None:
    """Encode RGB frames (numpy HxWx3 uint8 or PIL images) into an H.264 file at `path`.

    The container follows the file extension (.mp4 or .mov). With yuv420p, odd sizes are padded
    by one edge pixel to even; pass pix_fmt="yuv444p" to keep odd sizes exactly. `rotation`
    stores a display-matrix rotation (counter-clockwise degrees) without touching the pixels.
    `gop` is the keyframe interval in frames (default: one keyframe per second).
    """
    rate = exact_rate(fps)
    path = Path(path)
    container = av.open(str(path), mode="w")
    try:
        stream: av.video.stream.VideoStream | None = None
        for frame in frames:
            array = _as_rgb_array(frame)
            if pix_fmt == "yuv420p":
                array = _pad_to_even(array)
            if stream is None:
                stream = container.add_stream("libx264", rate=rate)
                stream.height, stream.width = array.shape[:2]
                stream.pix_fmt = pix_fmt
                stream.codec_context.gop_size = gop or max(1, round(float(rate)))
                stream.options = {"crf": str(crf), "preset": preset}
                if rotation % 360:
                    stream.set_display_rotation(rotation % 360)
            elif array.shape[:2] != (stream.height, stream.width):
                raise MediaError("All frames of a video must have the same size.")
            video_frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        if stream is None:
            raise MediaError("A video needs at least one frame.")
        for packet in stream.encode():
            container.mux(packet)
    except BaseException:
        container.close()
        path.unlink(missing_ok=True)
        raise
    container.close()
