"""`kling-bot demo` end to end: real client, real emulator, real files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bot.cli import main
from bot.demo import BALL_RADIUS, DEMO_SIZE, ball_centre, make_demo_video, run_demo
from bot.demo_args import DemoRequest
from bot.media import extract_frame, probe_video, write_mp4

BALL_AREA = np.pi * BALL_RADIUS**2


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def red_count(rgb: np.ndarray) -> int:
    """Strongly red pixels: the demo ball (220, 30, 30), not the blue-green backdrop."""
    r, g, b = (rgb[..., channel].astype(int) for channel in range(3))
    return int(((r > 150) & (g < 90) & (b < 90)).sum())


_ROWS, _COLUMNS = np.ogrid[0 : DEMO_SIZE[1], 0 : DEMO_SIZE[0]]


def ball_disc(index: int, shrink: float = 0.6) -> np.ndarray:
    """The demo ball's disc on frame `index` (shrunk to stay off its edge)."""
    cx, cy = ball_centre(index)
    width, height = DEMO_SIZE
    distance = (_COLUMNS - cx * width) ** 2 + (_ROWS - cy * height) ** 2
    return distance <= (BALL_RADIUS * shrink) ** 2


def difference(shown: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Largest channel difference per pixel."""
    apart = np.maximum(shown, source) - np.minimum(shown, source)
    return np.maximum(np.maximum(apart[..., 0], apart[..., 1]), apart[..., 2])


def clearly_differs(shown: np.ndarray, source: np.ndarray, where: np.ndarray) -> bool:
    """The largest channel difference, averaged over `where`, is well beyond codec noise."""
    return float(difference(shown, source)[where].mean()) > 60


async def test_demo_removes_the_ball_from_every_frame_and_shows_the_tracked_mask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert await run_demo(DemoRequest(None, out), seconds_per_stage=0) == 0

    for name in ("board-1.png", "board-2.png"):
        with Image.open(out / name) as board:
            assert board.format == "PNG"
            assert max(board.size) == 1280

    source = decoded(out / "input.mp4")
    result = decoded(out / "result.mp4")
    assert len(source) == len(result) == 72
    assert result[0].shape[:2] == (DEMO_SIZE[1], DEMO_SIZE[0])
    for index, (before, after) in enumerate(zip(source, result, strict=True)):
        assert red_count(before) > 0.9 * BALL_AREA, f"the source has no ball on frame {index}"
        assert red_count(after) < 50, f"the ball is still in result frame {index}"

    # Kling's preview shows the tracked mask on every frame: over the ball the preview's
    # pixels differ clearly from the source frame's, and away from it they do not.
    preview = decoded(out / "preview.mp4")
    assert len(preview) == len(source)
    for index, (before, shown) in enumerate(zip(source, preview, strict=True)):
        assert shown.shape == before.shape
        assert clearly_differs(shown, before, ball_disc(index)), f"frame {index}"
        assert difference(shown, before)[~ball_disc(index, shrink=1.5)].mean() < 3
    cover = np.asarray(Image.open(out / "preview-cover.png").convert("RGB"))
    assert cover.shape == source[0].shape
    assert clearly_differs(cover, source[0], ball_disc(0))

    printed = capsys.readouterr().out
    listing = printed[printed.index(f"Files in {out}/:") :].splitlines()[1:]
    names = [line.split()[0] for line in listing]
    assert names == sorted(p.name for p in out.iterdir())
    assert "result.mp4" in names and "preview.mp4" in names
    assert all("KiB" in line or "MiB" in line for line in listing)
    assert "not written by this run" not in printed
    assert not (out / "emulator").exists()


WIDTH = HEIGHT = 720
FRAMES, SIDE = 48, 120
GREEN = (40, 200, 60)


def square_box(index: int) -> tuple[int, int, int, int]:
    """A green square crossing the small clip from the left edge to the right edge."""
    left = round(index * (WIDTH - SIDE) / (FRAMES - 1))
    return 300, left, 300 + SIDE, left + SIDE


def square_frames() -> Iterator[np.ndarray]:
    backdrop = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    backdrop[..., 1] = np.linspace(60, 140, HEIGHT, dtype=np.uint8)[:, None]
    backdrop[..., 2] = 170
    for index in range(FRAMES):
        frame = backdrop.copy()
        top, left, bottom, right = square_box(index)
        frame[top:bottom, left:right] = GREEN
        yield frame


@pytest.fixture(scope="module")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s 720x720 24 fps clip (the smallest Kling takes)."""
    path = tmp_path_factory.mktemp("demo-clip") / "square.mp4"
    write_mp4(square_frames(), path, 24, preset="ultrafast")
    return path


@pytest.fixture(scope="module")
def reference_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo-image") / "magenta.png"
    Image.new("RGB", (400, 400), (230, 20, 200)).save(path)
    return path


def inner(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, bottom, right = box
    return rgb[top + 15 : bottom - 15, left + 15 : right - 15].reshape(-1, 3).astype(int)


def share_near(pixels: np.ndarray, colour: tuple[int, int, int]) -> float:
    return float((np.abs(pixels - np.array(colour)).max(axis=1) < 50).mean())


async def test_swap_at_a_time_with_pixel_points_on_a_given_video(
    small_video: Path, reference_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    top, left, bottom, right = square_box(24)
    point = f"{(left + right) // 2},{(top + bottom) // 2}px"
    request = DemoRequest(
        small_video,
        out,
        points=point,
        time="1s",
        mode="swap",
        images=(reference_png,),
        prompt="the green square",
    )
    assert await run_demo(request, seconds_per_stage=0) == 0
    printed = capsys.readouterr().out
    assert "frame 24 (1.00 s)" in printed
    assert "swap the subject from <<<image_1>>> for the green square from <<<video_1>>>" in printed
    assert (out / "board-1.png").exists() and not (out / "board-2.png").exists()

    source, result = decoded(small_video), decoded(out / "result.mp4")
    assert len(result) == FRAMES
    # Marked on frame 24, followed backwards and forwards: the square is swapped for the
    # reference image on every frame.
    for index in range(FRAMES):
        box = square_box(index)
        assert share_near(inner(source[index], box), GREEN) > 0.95
        assert share_near(inner(result[index], box), GREEN) < 0.02, f"frame {index}"
        assert share_near(inner(result[index], box), (230, 20, 200)) > 0.9, f"frame {index}"


async def test_points_by_cell_on_a_chosen_frame_add_beside_it(
    small_video: Path, reference_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    # Two points: the square's cell and normalised coordinates on it, on frame 0.
    request = DemoRequest(
        small_video, out, points="A6;0.1,0.5", frame="0", mode="add", images=(reference_png,)
    )
    assert await run_demo(request, seconds_per_stage=0) == 0
    printed = capsys.readouterr().out
    assert (
        "addition: Using the context of <<<video_1>>>, seamlessly add the subject from"
        " <<<image_1>>>" in printed
    )
    assert (out / "board-2.png").exists()
    result = decoded(out / "result.mp4")
    # The reference is placed beside the square; the square itself stays.
    assert share_near(inner(result[0], square_box(0)), GREEN) > 0.9
    assert share_near(result[0].reshape(-1, 3).astype(int), (230, 20, 200)) > 0.05


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["demo", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--points", "A6 Z9"], "--points: `Z9` is not a cell on this board"),
        (["--points", "A6 1.2,0.5"], "--points: `1.2,0.5` is outside the frame"),
        (["--points", "A6", "--frame", "48"], "frame 48 is outside this video (frames 0–47)"),
        (["--points", "A6", "--frame", "two"], "--frame: `two` is not a whole number"),
        (["--points", "A6", "--time", "3s"], "--time: `3s` is after the end of the video"),
        (["--points", "A6", "--frame", "1", "--time", "1s"], "not both"),
        (["--points", "A6", "--mode", "explode"], "--mode: `explode` is not an edit"),
        (["--points", "A6", "--mode", "swap"], "--image: A swap needs exactly one reference"),
        (
            ["--points", "A6", "--mode", "add", "--image", "nowhere.png"],
            "--image nowhere.png does not exist",
        ),
        (["--points", "A6", "--prompt", "  "], "--prompt: The prompt is empty"),
    ],
    ids=[
        "bad-cell",
        "outside",
        "frame-range",
        "frame-word",
        "time-late",
        "frame-and-time",
        "mode",
        "swap-no-image",
        "missing-image",
        "empty-prompt",
    ],
)
def test_bad_option_values_get_one_line_and_exit_2(
    options: list[str],
    expected: str,
    small_video: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    code, printed, err = run_cli([str(small_video), "--out", str(out), *options], capsys)
    assert code == 2
    assert err.startswith("kling-bot demo: ") and err.endswith("\n") and err.count("\n") == 1
    assert expected in err
    assert "Traceback" not in err + printed
    assert not (out / "result.mp4").exists() and not (out / "board-1.png").exists()


def test_reference_images_are_checked_like_the_bot_checks_them(
    small_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (120, 120), (255, 0, 0)).save(tiny)
    code, _, err = run_cli(
        [
            str(small_video),
            "--out",
            str(tmp_path / "o"),
            "--points",
            "A6",
            "--mode",
            "swap",
            "--image",
            str(tiny),
        ],
        capsys,
    )
    assert code == 2 and err.count("\n") == 1
    assert f"--image {tiny}: " in err and "300" in err
    # A removal takes no image, as in the bot.
    code, _, err = run_cli(
        [str(small_video), "--out", str(tmp_path / "o"), "--points", "A6", "--image", str(tiny)],
        capsys,
    )
    assert code == 2 and "takes no reference image" in err


def test_a_given_video_without_points_asks_for_them_and_draws_the_grid(
    small_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli([str(small_video), "--out", str(out), "--frame", "10"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "--points" in err and str(out / "grid.png") in err
    with Image.open(out / "grid.png") as grid:
        assert grid.size == (1280, 1280)  # the board of frame 10, without masks or points
    assert not (out / "result.mp4").exists()


def test_a_missing_video_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli([str(tmp_path / "gone.mp4"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err == f"kling-bot demo: VIDEO {tmp_path / 'gone.mp4'} does not exist\n"


async def test_demo_refuses_a_video_it_cannot_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"<html>not a video</html>")
    assert await run_demo(DemoRequest(broken, tmp_path / "out", points="C4")) == 1
    assert "cannot be used" in capsys.readouterr().out


async def test_demo_fixes_a_video_with_the_wrong_frame_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source.mp4"
    make_demo_video(tmp_path / "demo.mp4")
    frames = [np.asarray(extract_frame(tmp_path / "demo.mp4", i)) for i in range(0, 72, 2)]
    write_mp4(frames, source, 12)  # 3 s at 12 fps: Kling accepts 24/30/60 only
    cx, cy = ball_centre(0)
    request = DemoRequest(source, tmp_path / "out", points=f"{cx},{cy}")
    assert await run_demo(request, seconds_per_stage=0) == 0
    printed = capsys.readouterr().out
    assert "fps" in printed
    fixed = probe_video(tmp_path / "out" / "input-fixed.mp4")
    assert round(fixed.fps) in (24, 30, 60)
    assert (tmp_path / "out" / "result.mp4").exists()
    assert "input-fixed.mp4" in printed.split("Files in")[1]
