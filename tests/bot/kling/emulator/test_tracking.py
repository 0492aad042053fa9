"""The emulator follows a marked object frame to frame, however far it travels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from bot.kling.emulator.renderer import render_edit, render_preview
from bot.kling.emulator.segmentation import Click, PreparedFrame
from bot.kling.emulator.tracking import track_video
from bot.media import write_mp4

from .conftest import iou

WIDTH, HEIGHT, FRAMES = 1280, 720, 48
SIDE = 90
OBJECT = (240, 200, 30)
# A still square of the same colour, far from the moving one's path: tracking must not jump to it.
DECOY_BOX = (40, 1120, 130, 1210)  # top, left, bottom, right


def object_box(index: int) -> tuple[int, int, int, int]:
    """The moving square crosses the whole width (left edge 0 to right edge WIDTH) on a
    diagonal, about 26 px a frame."""
    left = round(index * (WIDTH - SIDE) / (FRAMES - 1))
    top = round(200 + index * 300 / (FRAMES - 1))
    return top, left, top + SIDE, left + SIDE


def box_mask(box: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    top, left, bottom, right = box
    mask[top:bottom, left:right] = True
    return mask


def scene() -> list[np.ndarray]:
    rows = np.linspace(40, 160, HEIGHT, dtype=np.uint8)[:, None]
    backdrop = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    backdrop[..., 0] = 20
    backdrop[..., 1] = rows
    backdrop[..., 2] = 170
    frames = []
    for index in range(FRAMES):
        frame = backdrop.copy()
        for top, left, bottom, right in (object_box(index), DECOY_BOX):
            frame[top:bottom, left:right] = OBJECT
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return scene()


def click_on(frames: list[np.ndarray], index: int) -> dict[int, list[Click]]:
    top, left, bottom, right = object_box(index)
    x, y = (left + right) / 2 / WIDTH, (top + bottom) / 2 / HEIGHT
    colour = PreparedFrame(frames[index]).seed_colour(x, y)
    return {index: [Click(x, y, 0, colour)]}


def tracked(frames: list[np.ndarray], clicks: dict[int, list[Click]]) -> list[np.ndarray]:
    def source() -> Iterator[np.ndarray]:
        return iter(frames)

    empty = np.zeros((HEIGHT, WIDTH), dtype=bool)
    return [masks.get(0, empty) for _rgb, masks in track_video(source, clicks, 48.0)]


@pytest.mark.parametrize("marked", [0, FRAMES - 1, FRAMES // 2], ids=["first", "last", "middle"])
def test_an_object_crossing_the_whole_frame_is_followed_on_every_frame(
    frames: list[np.ndarray], marked: int
) -> None:
    masks = tracked(frames, click_on(frames, marked))
    assert len(masks) == FRAMES
    decoy = box_mask(DECOY_BOX)
    for index, mask in enumerate(masks):
        assert iou(mask, box_mask(object_box(index))) > 0.85, f"frame {index}"
        assert not (mask & decoy).any(), f"frame {index} picked up the still square"


def test_an_object_that_disappears_is_dropped_not_swapped_for_a_look_alike(
    frames: list[np.ndarray],
) -> None:
    # From frame 24 the square is gone (covered by the backdrop); the still square of the
    # same colour must not take its place.
    gone = [f.copy() for f in frames]
    for index in range(24, FRAMES):
        top, left, bottom, right = object_box(index)
        gone[index][top:bottom, left:right] = gone[0][top:bottom, WIDTH - SIDE : WIDTH]
    masks = tracked(gone, click_on(gone, 0))
    assert all(iou(masks[i], box_mask(object_box(i))) > 0.85 for i in range(24))
    assert not any(masks[i].any() for i in range(24, FRAMES))


def _write(frames: list[np.ndarray], path: Path) -> Path:
    write_mp4(frames, path, 24, preset="ultrafast")
    return path


def _decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _object_coloured(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    top, left, bottom, right = box
    inner = rgb[top + 10 : bottom - 10, left + 10 : right - 10].astype(int)
    close = np.abs(inner - np.array(OBJECT)).max(axis=-1) < 40
    return float(close.mean())


def test_removal_and_preview_follow_the_object_through_the_video(
    frames: list[np.ndarray], tmp_path: Path
) -> None:
    video = _write(frames, tmp_path / "crossing.mp4")
    clicks = click_on(frames, 0)
    render_edit(video, 0, 24, clicks, "removal", [], 48.0, tmp_path / "result.mp4")
    preview, cover = tmp_path / "preview.mp4", tmp_path / "cover.png"
    render_preview(video, 0, 24, clicks, 48.0, 1280, preview, cover, tmp_path / "t.json")
    source, result, shown = _decoded(video), _decoded(tmp_path / "result.mp4"), _decoded(preview)
    assert len(result) == len(shown) == FRAMES
    for index in range(FRAMES):
        box = object_box(index)
        assert _object_coloured(source[index], box) > 0.95  # the clip really has it there
        assert _object_coloured(result[index], box) < 0.02, f"removal: frame {index}"
        # The preview draws the mask over it: its pixels differ clearly from the frame's.
        assert _object_coloured(shown[index], box) < 0.5, f"preview: frame {index}"
        # ...and the still decoy, never marked, is drawn as it is.
        assert _object_coloured(result[index], DECOY_BOX) > 0.95
