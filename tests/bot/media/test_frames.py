"""Frame N is exactly frame N, wherever the keyframes are, and the disk cache serves repeats."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from bot.media import (
    FrameExtractor,
    MediaError,
    apply_rotation,
    extract_frame,
    frame_time,
    write_mp4,
)
from bot.media.frames import rgb_pixels
from tests.bot.media.conftest import numbered_frames, read_number

FRAMES = 300


@pytest.fixture(scope="module")
def numbered_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s at 30 fps (B-frames, a keyframe every 30 frames), each frame showing its index."""
    path = tmp_path_factory.mktemp("frames") / "numbered.mp4"
    write_mp4(numbered_frames(FRAMES), path, 30, crf=18, preset="faster", gop=30)
    return path


@pytest.fixture(scope="module")
def numbered_ntsc_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("frames") / "numbered_ntsc.mov"
    write_mp4(numbered_frames(120), path, 23.976, crf=18, preset="faster", gop=48)
    return path


@pytest.mark.parametrize("index", [0, 1, 29, 30, 31, 59, 150, 151, 238, 270, 299])
def test_frame_n_is_exactly_frame_n(numbered_video: Path, index: int) -> None:
    image = extract_frame(numbered_video, index)
    assert image.mode == "RGB"
    assert image.size == (160, 64)
    assert read_number(image) == index


def test_every_frame_of_an_ntsc_clip_with_b_frames(numbered_ntsc_video: Path) -> None:
    extractor = FrameExtractor(numbered_ntsc_video)
    assert [read_number(extractor.get(i)) for i in range(120)] == list(range(120))


def test_frame_past_the_end_is_refused(numbered_video: Path) -> None:
    with pytest.raises(MediaError, match=r"Frame 300 does not exist; the video has 300 frames"):
        extract_frame(numbered_video, FRAMES)
    with pytest.raises(MediaError, match="numbered from 0"):
        extract_frame(numbered_video, -1)


def test_cache_serves_repeats_without_the_video(numbered_video: Path, tmp_path: Path) -> None:
    video = tmp_path / "session.mp4"
    shutil.copyfile(numbered_video, video)
    cache = tmp_path / "cache"
    extractor = FrameExtractor(video, cache)
    first = extractor.get(200)
    cached_file = extractor.cache_path(200)
    assert cached_file is not None and cached_file.is_file()
    # With the video gone, only the cache can answer.
    video.unlink()
    again = FrameExtractor(video, cache).get(200)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert read_number(again) == 200
    with pytest.raises(MediaError):
        extractor.get(201)


def test_extractor_without_cache_writes_nothing(numbered_video: Path, tmp_path: Path) -> None:
    extractor = FrameExtractor(numbered_video, None)
    assert extractor.cache_path(3) is None
    assert read_number(extractor.get(3)) == 3


def test_rotated_frame_comes_out_upright(tmp_path: Path) -> None:
    stored = np.zeros((64, 96, 3), np.uint8)
    stored[:32, :48] = (255, 0, 0)  # red top-left as stored
    path = tmp_path / "turned.mp4"
    write_mp4([stored] * 3, path, 30, crf=10, rotation=90)
    image = extract_frame(path, 1)
    assert image.size == (64, 96)
    pixels = np.asarray(image)
    # Turned 90° counter-clockwise, the stored top-left lands bottom-left.
    assert pixels[80, 10, 0] > 200
    assert pixels[10, 10, 0] < 50


def test_frame_time() -> None:
    assert frame_time(0, 30) == 0
    assert frame_time(45, 30) == pytest.approx(1.5)
    assert frame_time(24, 24000 / 1001) == pytest.approx(1.001)
    with pytest.raises(MediaError):
        frame_time(1, 0)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rgb_pixels_are_pyav_pictures_turned_upright(tmp_path: Path, rotation: int) -> None:
    """The array the boards use holds exactly the pixels of PyAV's own picture turned as a
    player would, for every rotation and a width whose rows PyAV pads (4:4:4, 99 px)."""
    rng = np.random.default_rng(rotation)
    stored = rng.integers(0, 256, (50, 99, 3), dtype=np.uint8)
    path = tmp_path / f"turned{rotation}.mp4"
    write_mp4([stored] * 2, path, 30, crf=10, pix_fmt="yuv444p", rotation=rotation)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        expected = np.asarray(apply_rotation(frame.to_image(), rotation))
        pixels = rgb_pixels(frame)
    assert pixels.shape == expected.shape == ((99, 50, 3) if rotation % 180 else (50, 99, 3))
    assert np.array_equal(pixels, expected)
    assert pixels.flags.c_contiguous
