"""`kling-bot demo` end to end: real client, real emulator, real files."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.demo import BALL_RADIUS, DEMO_SIZE, ball_centre, make_demo_video, run_demo
from bot.media import extract_frame, probe_video


def ball_pixels(frame: Image.Image, index: int) -> np.ndarray:
    """RGB pixels inside the demo ball's disc on frame `index` (shrunk to stay off its edge)."""
    array = np.asarray(frame.convert("RGB")).astype(int)
    height, width = array.shape[:2]
    cx, cy = ball_centre(index)
    ys, xs = np.mgrid[0:height, 0:width]
    inside = (xs - cx * width) ** 2 + (ys - cy * height) ** 2 <= (BALL_RADIUS * 0.6) ** 2
    return array[inside]


def is_red(pixels: np.ndarray) -> np.ndarray:
    return (pixels[:, 0] > 150) & (pixels[:, 1] < 90) & (pixels[:, 2] < 90)


async def test_demo_writes_boards_preview_and_an_edited_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert await run_demo(None, out, seconds_per_stage=0) == 0

    for name in ("board-1.png", "board-2.png"):
        with Image.open(out / name) as board:
            assert board.format == "PNG"
            assert max(board.size) == 1280
    assert (out / "preview-cover.png").exists() or any(out.glob("preview-cover.*"))
    preview = probe_video(out / "preview.mp4")
    assert preview.frame_count > 0

    result = probe_video(out / "result.mp4")
    assert (result.width, result.height) == DEMO_SIZE
    assert result.duration_s == pytest.approx(3.0, abs=0.2)
    # The input's ball is red; in the result the region holds the backdrop instead.
    before = ball_pixels(extract_frame(out / "input.mp4", 10), 10)
    after = ball_pixels(extract_frame(out / "result.mp4", 10), 10)
    assert is_red(before).mean() > 0.95
    assert is_red(after).mean() < 0.05

    printed = capsys.readouterr().out
    assert "wrote result.mp4" in printed and "total" in printed
    assert not (out / "emulator").exists()


async def test_demo_refuses_a_video_it_cannot_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"<html>not a video</html>")
    assert await run_demo(broken, tmp_path / "out") == 1
    assert "cannot be used" in capsys.readouterr().out


async def test_demo_fixes_a_video_with_the_wrong_frame_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.media import write_mp4

    source = tmp_path / "source.mp4"
    make_demo_video(tmp_path / "demo.mp4")
    frames = [np.asarray(extract_frame(tmp_path / "demo.mp4", i)) for i in range(0, 72, 2)]
    write_mp4(frames, source, 12)  # 3 s at 12 fps: Kling accepts 24/30/60 only
    assert await run_demo(source, tmp_path / "out", seconds_per_stage=0) == 0
    printed = capsys.readouterr().out
    assert "fps" in printed
    fixed = probe_video(tmp_path / "out" / "input-fixed.mp4")
    assert round(fixed.fps) in (24, 30, 60)
    assert (tmp_path / "out" / "result.mp4").exists()
