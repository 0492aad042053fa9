"""Hostile and broken inputs, written at test time (nothing large is committed).

Each generator returns bytes (or writes a file and returns its path). They are small: the
"huge" ones only *declare* huge sizes in their headers.
"""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

# ----- videos ----------------------------------------------------------------------------------


def encode(
    path: Path,
    *,
    width: int,
    height: int,
    frames: int,
    fps: int = 24,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    codec: str = "libx264",
    container: str | None = None,
) -> Path:
    """Encode grey frames; `pts` (in `time_base` units) makes durations and frame rates odd."""
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        pixels = np.full((height, width, 3), 90, np.uint8)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            if pts is not None:
                frame.pts = pts[index]
                frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = np.zeros((1, 1024), np.float32)
        for index in range(40):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.pts = index * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def truncated(source: Path, path: Path, keep: float = 0.4) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# ----- images ----------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, *, bit_depth: int = 8) -> bytes:
    """A PNG whose header declares `width` x `height` but carries almost no data (a bomb)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def image_bytes(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def cmyk_jpeg() -> bytes:
    return image_bytes(Image.new("CMYK", (600, 600), (0, 120, 200, 10)), "JPEG")


def png_16bit() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 600, dtype=np.uint16), (600, 1))
    return image_bytes(Image.fromarray(ramp), "PNG")  # uint16 data: a 16-bit greyscale PNG


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (500, 500), c) for c in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def solid_png(width: int, height: int, mode: str = "RGB") -> bytes:
    colour: object = (120, 80, 40) if mode == "RGB" else (120, 80, 40, 128)
    return image_bytes(Image.new(mode, (width, height), colour), "PNG")  # type: ignore[arg-type]


def rotated_jpeg() -> bytes:
    """Stored 800x400 with EXIF orientation 6: shown as 400x800."""
    image = Image.new("RGB", (800, 400), (10, 120, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    return image_bytes(image, "JPEG", exif=exif)
