"""shrink_video on a real, hard-to-compress clip: fits the limit, stays a playable video."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.media import probe_video, shrink_video, write_mp4


def noisy_frames(count: int, width: int, height: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (height, width * 2, 3), dtype=np.uint8)
    for index in range(count):
        yield base[:, index * 9 : index * 9 + width]


@pytest.fixture(scope="module")
def heavy_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shrink") / "heavy.mp4"
    write_mp4(noisy_frames(60, 960, 540), path, 30, crf=12, preset="ultrafast")
    return path


@pytest.mark.parametrize(
    ("limit", "downscaled"), [(1_500_000, False), (400_000, False), (150_000, True)]
)
def test_shrunk_video_fits_and_plays(
    heavy_clip: Path, tmp_path: Path, limit: int, downscaled: bool
) -> None:
    source = probe_video(heavy_clip)
    assert source.size_bytes > 4 * limit
    result = shrink_video(heavy_clip, tmp_path / "small.mp4", limit)
    assert result == tmp_path / "small.mp4"
    assert result.stat().st_size <= limit
    shrunk = probe_video(result)
    assert shrunk.duration_s == pytest.approx(source.duration_s, abs=0.04)
    assert shrunk.frame_count == source.frame_count
    assert shrunk.width / shrunk.height == pytest.approx(960 / 540, rel=0.02)
    # Too few bits for the full size: fewer pixels look better than smeared blocks.
    assert (shrunk.width < 960) == downscaled
    # At a tenth of the size the content uses well over half the allowance: no wasted budget.
    assert result.stat().st_size > 0.5 * limit


def test_impossible_limit_gives_none_and_no_file(heavy_clip: Path, tmp_path: Path) -> None:
    assert shrink_video(heavy_clip, tmp_path / "none.mp4", 20_000) is None
    assert not (tmp_path / "none.mp4").exists()


def test_video_that_fits_is_copied_unchanged(heavy_clip: Path, tmp_path: Path) -> None:
    result = shrink_video(heavy_clip, tmp_path / "same.mp4", 10**9)
    assert result is not None
    assert result.read_bytes() == heavy_clip.read_bytes()
