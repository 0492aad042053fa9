"""Kling's video rules at every boundary, on real files; each fixable video is fixed and passes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bot.media import (
    MediaError,
    check_video,
    edit_duration_for,
    extract_frame,
    fix_video,
    probe_video,
)
from tests.bot.media.conftest import ClipFactory

DURATION_MESSAGE = "The video is {} s long; Kling accepts 2–5 s or 7–10 s."
SIZE_MESSAGE = "The video is {}x{} px; Kling needs each side between 720 and 2160 px."


def rules_broken(path: Path) -> dict[str, tuple[str, bool]]:
    return {v.rule: (v.message, v.fixable) for v in check_video(probe_video(path))}


def fixed_and_passing(src: Path, tmp_path: Path) -> tuple[list[str], Path]:
    report = fix_video(src, tmp_path / "fixed.mp4", probe_video(src))
    assert report.path.is_file()
    again = probe_video(report.path)
    assert check_video(again) == []
    assert again.container == "mp4"
    assert again.codec == "h264"
    return report.changes, report.path


@pytest.mark.parametrize(
    ("seconds", "fixable", "edit_duration"),
    [
        (1.9, False, None),
        (2, None, "5"),
        (5, None, "5"),
        (5.1, True, None),
        (6.9, True, None),
        (7, None, "10"),
        (10, None, "10"),
        (10.1, True, None),
    ],
)
def test_duration_boundaries(
    clip: ClipFactory, seconds: float, fixable: bool | None, edit_duration: str | None
) -> None:
    path = clip(seconds=seconds, fps=30)
    broken = rules_broken(path)
    if fixable is None:
        assert broken == {}
        assert edit_duration_for(probe_video(path)) == edit_duration
    else:
        assert broken == {"duration": (DURATION_MESSAGE.format(seconds), fixable)}
        with pytest.raises(MediaError, match="2–5 s or 7–10 s"):
            edit_duration_for(probe_video(path))


@pytest.mark.parametrize(("seconds", "kept"), [(5.1, 5.0), (6.9, 5.0), (10.1, 10.0)])
def test_too_long_video_is_trimmed_to_the_longer_window(
    clip: ClipFactory, tmp_path: Path, seconds: float, kept: float
) -> None:
    changes, fixed = fixed_and_passing(clip(seconds=seconds, fps=30), tmp_path)
    info = probe_video(fixed)
    assert info.duration_s == pytest.approx(kept)
    assert info.frame_count == round(kept * 30)
    assert f"Trimmed from {seconds} s to {kept:g} s (the start is kept)." in changes


def test_too_short_video_cannot_be_fixed(clip: ClipFactory, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"1\.9 s long"):
        fix_video(clip(seconds=1.9), tmp_path / "out.mp4", probe_video(clip(seconds=1.9)))
    assert not (tmp_path / "out.mp4").exists()


def test_ntsc_clip_of_whole_seconds_passes(clip: ClipFactory) -> None:
    """150 frames at 29.97 fps last 5.005 s: inside the tolerance, edited as a 5 s video."""
    info = probe_video(clip(seconds=5.005, fps=29.97))
    assert info.duration_s == pytest.approx(5.005)
    assert check_video(info) == []
    assert edit_duration_for(info) == "5"


@pytest.mark.parametrize(
    ("width", "height", "ok"),
    [
        (719, 720, False),
        (720, 720, True),
        (2160, 720, True),
        (2161, 720, False),
        (720, 2161, False),
    ],
)
def test_size_boundaries(clip: ClipFactory, width: int, height: int, ok: bool) -> None:
    broken = rules_broken(clip(seconds=2, fps=24, width=width, height=height))
    if ok:
        assert broken == {}
    else:
        assert broken == {"dimensions": (SIZE_MESSAGE.format(width, height), True)}


@pytest.mark.parametrize(
    ("width", "height", "fixed_size"),
    [(719, 720, (720, 722)), (2161, 720, (2160, 720)), (640, 360, (1280, 720))],
)
def test_wrong_size_is_rescaled_keeping_aspect(
    clip: ClipFactory, tmp_path: Path, width: int, height: int, fixed_size: tuple[int, int]
) -> None:
    changes, fixed = fixed_and_passing(
        clip(seconds=2, fps=24, width=width, height=height), tmp_path
    )
    info = probe_video(fixed)
    assert (info.width, info.height) == fixed_size
    assert f"Resized from {width}x{height} to {fixed_size[0]}x{fixed_size[1]} px." in changes


def test_shape_too_extreme_to_fit_is_not_fixable(clip: ClipFactory, tmp_path: Path) -> None:
    path = clip(seconds=0.25, fps=24, width=2880, height=720)
    broken = rules_broken(path)
    assert broken["dimensions"] == (SIZE_MESSAGE.format(2880, 720), False)
    with pytest.raises(MediaError, match="2880x720"):
        fix_video(path, tmp_path / "out.mp4", probe_video(path))


@pytest.mark.parametrize("fps", [23.976, 24, 29.97, 30, 59.94, 60])
def test_accepted_frame_rates(clip: ClipFactory, fps: float) -> None:
    assert rules_broken(clip(seconds=2, fps=fps)) == {}


@pytest.mark.parametrize(("fps", "shown", "target"), [(25, "25", 24), (50, "50", 60)])
def test_other_frame_rates_are_converted_to_the_nearest(
    clip: ClipFactory, tmp_path: Path, fps: float, shown: str, target: int
) -> None:
    path = clip(seconds=2, fps=fps)
    assert rules_broken(path) == {
        "fps": (f"The video runs at {shown} fps; Kling accepts 24, 30 or 60 fps.", True)
    }
    changes, fixed = fixed_and_passing(path, tmp_path)
    info = probe_video(fixed)
    assert info.fps == pytest.approx(target)
    assert info.duration_s == pytest.approx(2.0)
    assert f"Changed the frame rate from {shown} to {target} fps." in changes


def test_mov_is_accepted_and_mkv_is_converted(clip: ClipFactory, tmp_path: Path) -> None:
    assert rules_broken(clip(seconds=2, fps=30, ext="mov")) == {}
    mkv = clip(seconds=2, fps=30, ext="mkv")
    assert rules_broken(mkv) == {
        "container": ("The video is a MKV file; Kling accepts MP4 or MOV.", True)
    }
    changes, _ = fixed_and_passing(mkv, tmp_path)
    assert "Converted from MKV (h264) to MP4 (H.264)." in changes


def test_several_broken_rules_are_all_reported(clip: ClipFactory) -> None:
    broken = rules_broken(clip(seconds=10.1, fps=25, width=640, height=360, ext="mkv"))
    assert set(broken) == {"container", "duration", "dimensions", "fps"}


def test_rotated_video_is_checked_as_displayed_and_fixed_upright(
    clip: ClipFactory, tmp_path: Path
) -> None:
    path = clip(seconds=2, fps=25, width=1280, height=720, ext="mov", rotation=90)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (720, 1280, 90)
    assert set(rules_broken(path)) == {"fps"}
    changes, fixed = fixed_and_passing(path, tmp_path)
    after = probe_video(fixed)
    assert (after.width, after.height, after.rotation) == (720, 1280, 0)
    assert "Turned the picture upright (it was stored rotated by 90°)." in changes
    before_pixels = np.asarray(extract_frame(path, 0), dtype=np.int16)
    after_pixels = np.asarray(extract_frame(fixed, 0), dtype=np.int16)
    # The red quarter (top-left as stored) is bottom-left once turned 90° counter-clockwise.
    assert after_pixels[1000, 100, 0] > 180 and after_pixels[1000, 100, 1] < 80
    assert after_pixels[100, 600, 0] < 80
    assert np.abs(before_pixels - after_pixels).mean() < 4


def test_variable_frame_rate_is_detected_and_made_constant(tmp_path: Path) -> None:
    """Frames 45 ms and 25 ms apart by turns: a 28.6 fps average, fixed to a steady 30 fps."""
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 720, 720, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for index in range(75):
            frame = av.VideoFrame.from_ndarray(
                np.full((720, 720, 3), index * 3, np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(frame))
            pts += 25 if index % 2 else 45
        out.mux(stream.encode())
    info = probe_video(path)
    assert info.variable_frame_rate
    assert info.fps == pytest.approx(28.59, abs=0.01)
    assert rules_broken(path) == {
        "fps": ("The video runs at 28.59 fps; Kling accepts 24, 30 or 60 fps.", True)
    }
    changes, fixed = fixed_and_passing(path, tmp_path)
    after = probe_video(fixed)
    assert not after.variable_frame_rate
    assert after.fps == 30
    assert after.duration_s == pytest.approx(info.duration_s, abs=1 / 30)
    assert "Changed the frame rate from 28.59 to 30 fps." in changes
