"""Real video files for the media tests, made with PyAV and shared across the session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.media.writer import exact_rate, write_mp4

ClipFactory = Callable[..., Path]

BITS = 10
BLOCK = 16


def simple_frames(count: int, width: int, height: int) -> Iterator[np.ndarray]:
    """Low-complexity frames: a flat background, a red top-left quarter, a moving white block."""
    base = np.full((height, width, 3), 40, np.uint8)
    base[: height // 2, : width // 2] = (220, 30, 30)
    for index in range(count):
        frame = base.copy()
        x = (index * 8) % max(1, width - 32)
        frame[height - 32 : height - 8, x : x + 24] = 255
        yield frame


def numbered_frames(
    count: int, width: int = BITS * BLOCK, height: int = 64
) -> Iterator[np.ndarray]:
    """Frames whose index is written in black/white blocks, one bit per block."""
    for index in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        for bit in range(BITS):
            if index >> bit & 1:
                frame[:, bit * BLOCK : (bit + 1) * BLOCK] = 255
        yield frame


def read_number(image: object) -> int:
    """The index written by numbered_frames, read back from a decoded frame."""
    pixels = np.asarray(image)
    row = pixels.shape[0] // 2
    return sum(1 << bit for bit in range(BITS) if pixels[row, bit * BLOCK + BLOCK // 2, 0] > 127)


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> ClipFactory:
    """make a clip (memoised): clip(seconds=2, fps=30, width=720, height=720, ext="mp4", ...)."""
    made: dict[tuple[object, ...], Path] = {}
    folder = tmp_path_factory.mktemp("clips")

    def make(
        seconds: float = 2.0,
        fps: float = 30,
        width: int = 720,
        height: int = 720,
        ext: str = "mp4",
        rotation: int = 0,
    ) -> Path:
        key = (seconds, fps, width, height, ext, rotation)
        if key not in made:
            name = f"{seconds}s_{fps}fps_{width}x{height}_r{rotation}.{ext}"
            path = folder / name
            count = round(seconds * float(exact_rate(fps)))
            odd = width % 2 or height % 2
            write_mp4(
                simple_frames(count, width, height),
                path,
                fps,
                crf=35,
                preset="ultrafast",
                pix_fmt="yuv444p" if odd else "yuv420p",
                gop=count,
                rotation=rotation,
            )
            made[key] = path
        return made[key]

    return make
