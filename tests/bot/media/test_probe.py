"""probe_video on real files: what it reads, and how it refuses files that are not videos."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bot.media import MediaError, probe_video, write_mp4
from tests.bot.media.conftest import ClipFactory


def test_probe_reads_an_mp4(clip: ClipFactory) -> None:
    info = probe_video(clip(seconds=2, fps=30, width=720, height=720))
    assert info.container == "mp4"
    assert info.codec == "h264"
    assert info.duration_s == pytest.approx(2.0)
    assert info.fps == pytest.approx(30.0)
    assert (info.width, info.height) == (720, 720)
    assert info.frame_count == 60
    assert info.frame_count_exact
    assert info.rotation == 0
    assert not info.has_audio
    assert not info.variable_frame_rate


def test_probe_tells_mov_from_mp4(clip: ClipFactory) -> None:
    info = probe_video(clip(seconds=2, fps=24, ext="mov"))
    assert info.container == "mov"
    assert info.frame_count == 48


def test_probe_reads_ntsc_rate_exactly(clip: ClipFactory) -> None:
    info = probe_video(clip(seconds=2, fps=23.976))
    assert info.fps == pytest.approx(24000 / 1001)
    assert info.frame_count == 48
    assert info.duration_s == pytest.approx(48 * 1001 / 24000)


def test_rotated_video_reports_display_size(tmp_path: Path) -> None:
    path = tmp_path / "portrait.mp4"
    frames = [np.zeros((48, 64, 3), np.uint8)] * 3
    write_mp4(frames, path, 30, rotation=270)
    info = probe_video(path)
    assert info.rotation == 270
    assert (info.width, info.height) == (48, 64)
    assert (info.coded_width, info.coded_height) == (64, 48)


def test_odd_sizes_are_padded_to_even_by_default(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    write_mp4([np.zeros((47, 63, 3), np.uint8)] * 2, path, 24)
    info = probe_video(path)
    assert (info.width, info.height) == (64, 48)


def test_mkv_is_probed_with_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "clip.mkv"
    write_mp4([np.zeros((48, 64, 3), np.uint8)] * 30, path, 30)
    info = probe_video(path)
    assert info.container == "mkv"
    assert info.duration_s == pytest.approx(1.0, abs=0.05)
    # Matroska keeps no per-frame index: the count is estimated, and says so.
    assert info.frame_count == 30
    assert not info.frame_count_exact


def test_audio_track_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "with_sound.mp4"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        for _ in range(30):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            out.mux(video.encode(frame))
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 48000), np.float32), format="fltp", layout="mono"
        )
        samples.sample_rate = 48000
        out.mux(audio.encode(samples))
        out.mux(video.encode())
        out.mux(audio.encode())
    assert probe_video(path).has_audio


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe_video(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot be opened"):
        probe_video(tmp_path / "nowhere.mp4")


def test_html_named_mp4_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "page.mp4"
    path.write_text("<!doctype html><html><body>Access denied</body></html>" * 20)
    with pytest.raises(MediaError, match="not a video"):
        probe_video(path)


def test_truncated_file_is_refused(clip: ClipFactory, tmp_path: Path) -> None:
    data = clip(seconds=2, fps=30).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"not a video|cut short|damaged"):
        probe_video(path)


def test_faststart_file_cut_short_is_refused(tmp_path: Path) -> None:
    """With the index at the front, the header still opens: the missing data must be noticed."""
    path = tmp_path / "front_index.mp4"
    frames = [np.full((48, 64, 3), i * 8, np.uint8) for i in range(30)]
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    with pytest.raises(MediaError, match="cut short"):
        probe_video(path)


def test_still_image_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "picture.mp4"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 800), "red").save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(MediaError, match="no video"):
        probe_video(path)


def test_audio_only_file_has_no_video(tmp_path: Path) -> None:
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as out:
        audio = out.add_stream("aac", rate=48000)
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 48000), np.float32), format="fltp", layout="mono"
        )
        samples.sample_rate = 48000
        out.mux(audio.encode(samples))
        out.mux(audio.encode())
    with pytest.raises(MediaError, match="no video"):
        probe_video(path)
