"""A board redraw starts from the frame at board size (memory, then disk), never re-reads the
full-resolution frame, and never draws or encodes the same board state twice."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot.editing import board_cache, boards
from bot.editing.board_cache import (
    BOARD_FRAME_BUDGET,
    BOARD_FRAMES,
    SizedLRU,
    board_frame,
    board_frame_path,
    flush_writes,
    prepare_board_frame,
)
from bot.media import write_mp4
from tests.bot.editing.conftest import ALICE, BOB, Rig


def flat_video(
    path: Path,
    colour: tuple[int, int, int],
    width: int = 1920,
    height: int = 1080,
    frames: int = 24,
) -> Path:
    """A video whose frame ``i`` is ``colour`` with a white bar ``i`` blocks from the left."""

    def frames_of() -> Iterator[np.ndarray]:
        for index in range(frames):
            frame = np.empty((height, width, 3), np.uint8)
            frame[:] = colour
            frame[: height // 4, index * 64 : index * 64 + 64] = 255
            yield frame

    write_mp4(frames_of(), path, 24, crf=10)
    return path


class FullReads:
    """Counts the board's reads of full-resolution frames (decode or PNG cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = board_cache.full_frame

        def counted(video: Path, cache_dir: Path, index: int, *, keep: bool = True) -> Image.Image:
            self.count += 1
            return real(video, cache_dir, index, keep=keep)

        real_around = board_cache.frames_around

        def counted_around(video: Path, cache_dir: Path, index: int) -> dict[int, Image.Image]:
            self.count += 1
            return real_around(video, cache_dir, index)

        monkeypatch.setattr(board_cache, "full_frame", counted)
        monkeypatch.setattr(board_cache, "frames_around", counted_around)


@pytest.fixture
def full_reads(monkeypatch: pytest.MonkeyPatch) -> FullReads:
    return FullReads(monkeypatch)


def test_board_frame_is_read_once_then_served_from_memory_then_disk(
    tmp_path: Path, full_reads: FullReads
) -> None:
    video = flat_video(tmp_path / "v.mp4", (30, 120, 200))
    cache = tmp_path / "frames"
    first = board_frame(video, cache, 5)
    assert first.shape == (720, 1280, 3)  # 1080p shrunk to the board
    assert not first.flags.writeable  # shared by every drawing of this frame
    pixels = np.asarray(first).astype(int)
    assert abs(pixels[500, 600] - (30, 120, 200)).max() < 12
    assert pixels[40, 5 * 64 * 2 // 3 + 20].min() > 230  # frame 5's bar, not another frame's
    assert full_reads.count == 1
    flush_writes()  # the board-size copy is written to disk in the background
    assert board_frame_path(cache, 5).is_file()
    # Only the board-size copy is kept: the full-resolution PNG is not encoded for a board.
    assert not list(cache.glob("frame-*.png"))

    assert board_frame(video, cache, 5) is first  # memory
    BOARD_FRAMES.clear()
    again = board_frame(video, cache, 5)  # disk, not the full frame
    assert full_reads.count == 1
    assert np.array_equal(np.asarray(again), np.asarray(first))


def test_a_decode_keeps_the_next_frame_for_the_next_step(
    tmp_path: Path, full_reads: FullReads
) -> None:
    video = flat_video(tmp_path / "v.mp4", (200, 60, 30))
    cache = tmp_path / "frames"
    board_frame(video, cache, 9)
    assert full_reads.count == 1
    flush_writes()
    assert board_frame_path(cache, 9).is_file() and board_frame_path(cache, 10).is_file()
    assert not board_frame_path(cache, 8).exists() and not board_frame_path(cache, 11).exists()
    BOARD_FRAMES.clear()
    # ▶ +1 reads its frame from the disk copy: no decode, and the right frame.
    pixels = np.asarray(board_frame(video, cache, 10)).astype(int)
    bar = 10 * 64 * 2 // 3 + 20
    assert pixels[40, bar].min() > 230 and pixels[40, bar + 43].max() < 230
    assert full_reads.count == 1
    # The last frame has no frame after it.
    board_frame(video, cache, 23)
    flush_writes()
    assert board_frame_path(cache, 23).is_file() and not board_frame_path(cache, 24).exists()


def test_a_damaged_board_frame_file_is_made_again(tmp_path: Path, full_reads: FullReads) -> None:
    video = flat_video(tmp_path / "v.mp4", (200, 40, 40), frames=4)
    cache = tmp_path / "frames"
    good = np.asarray(board_frame(video, cache, 2))
    flush_writes()
    BOARD_FRAMES.clear()
    board_frame_path(cache, 2).write_bytes(b"\x93NUMPY cut short")
    assert np.array_equal(np.asarray(board_frame(video, cache, 2)), good)
    assert full_reads.count == 2


def test_a_frame_waiting_for_the_disk_is_served_from_memory(
    tmp_path: Path, full_reads: FullReads
) -> None:
    video = flat_video(tmp_path / "v.mp4", (40, 160, 40), frames=10)
    cache = tmp_path / "frames"
    blocked = threading.Event()
    board_cache._writer.submit(blocked.wait, 30)  # the writer is busy: its queue waits
    try:
        board_frame(video, cache, 2)  # decodes frames 2 and 3
        BOARD_FRAMES.clear()
        assert not board_frame_path(cache, 2).exists()
        again = np.asarray(board_frame(video, cache, 2)).astype(int)
        assert again[40, 2 * 64 * 2 // 3 + 20].min() > 230
        assert full_reads.count == 1
        # The next frame is made ready ahead, on its own thread: written though the writer waits.
        board_cache._ahead.submit(lambda: None).result()
        assert board_frame_path(cache, 3).is_file()
        # Only a few frames wait for the disk at a time; the others are not written.
        for index in (0, 4, 6, 8):
            board_frame(video, cache, index)
        assert len(board_cache._unwritten) == board_cache.MAX_PENDING_WRITES
    finally:
        blocked.set()
    flush_writes()
    assert board_frame_path(cache, 2).is_file() and board_frame_path(cache, 6).is_file()
    assert not board_frame_path(cache, 8).exists()


def test_sessions_and_frames_never_share_a_board_frame(tmp_path: Path) -> None:
    red = flat_video(tmp_path / "red.mp4", (200, 30, 30), frames=4)
    blue = flat_video(tmp_path / "blue.mp4", (30, 30, 200), frames=4)
    red_frame = np.asarray(board_frame(red, tmp_path / "s1" / "frames", 1)).astype(int)
    blue_frame = np.asarray(board_frame(blue, tmp_path / "s2" / "frames", 1)).astype(int)
    other = np.asarray(board_frame(red, tmp_path / "s1" / "frames", 3)).astype(int)
    assert red_frame[600, 900, 0] > 150 > blue_frame[600, 900, 0]
    assert blue_frame[600, 900, 2] > 150
    assert not np.array_equal(red_frame, other)  # the bar moved


def test_the_lru_is_bounded_by_bytes_and_keeps_what_was_used_last() -> None:
    lru: SizedLRU[bytes] = SizedLRU(max_bytes=100)
    for key in range(5):
        lru.put(key, b"x" * 30, 30)
        assert lru.total_bytes <= 100
    assert len(lru) == 3 and lru.get(0) is None and lru.get(1) is None
    assert lru.get(2) is not None  # used: now the newest
    lru.put("new", b"y" * 30, 30)
    assert lru.get(3) is None and lru.get(2) is not None and lru.get(4) is not None
    lru.put("huge", b"z" * 101, 101)  # larger than the whole budget: not kept, nothing lost
    assert lru.get("huge") is None and len(lru) == 3
    lru.put(2, b"w" * 10, 10)  # replacing counts the new size only
    assert lru.total_bytes == 70


def test_board_frames_in_memory_stay_within_their_budget(tmp_path: Path) -> None:
    BOARD_FRAMES.clear()
    video = flat_video(tmp_path / "v.mp4", (90, 90, 90), width=1280, height=720, frames=16)
    for index in range(16):
        board_frame(video, tmp_path / "frames", index)
        flush_writes()
        assert BOARD_FRAMES.total_bytes <= BOARD_FRAME_BUDGET
    assert len(BOARD_FRAMES) < 16
    assert len(list((tmp_path / "frames").glob("board-*.npy"))) == 16  # all still on disk


class Renders:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = boards.render_board

        def counted(*args: Any, **kwargs: Any) -> bytes:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(boards, "render_board", counted)


async def test_a_mark_redraws_from_the_board_size_frame_and_one_state_is_drawn_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, full_reads: FullReads
) -> None:
    sid = await rig.open()
    renders = Renders(monkeypatch)
    opened = full_reads.count
    board = await rig.service.mark(sid, points="C4", user_id=ALICE)
    marked = await rig.service.mark(sid, points="F5", user_id=BOB)
    assert full_reads.count == opened  # the board-size frame of frame 0 was kept
    assert renders.count == 2 and board.image != marked.image

    # Asking again, or coming back to a state already drawn, costs no drawing.
    again = await rig.service.board(sid)
    assert again.image is marked.image
    await rig.service.goto_frame(sid, delta=1)
    back = await rig.service.goto_frame(sid, delta=-1)
    assert back.image is marked.image
    assert renders.count == 3  # frame 1 only

    # A change is drawn again: a new state, a new image.
    third = await rig.service.mark(sid, points="H3", user_id=ALICE)
    assert renders.count == 4 and third.image != marked.image
    assert len(third.points_on_frame) == 3
    with Image.open(io.BytesIO(third.image)) as image:
        assert image.size == (1280, 720)
    assert full_reads.count == opened  # frame 1 came with frame 0's decode


async def test_a_marks_frame_is_made_ready_while_kling_works_not_after(
    rig: Rig, full_reads: FullReads
) -> None:
    sid = await rig.open()
    cache = boards.session_dir(rig.media_dir, sid) / "frames"
    assert not board_frame_path(cache, 30).exists()
    rig.emulator.faults.stall("add-selection")
    mark = asyncio.create_task(rig.service.mark(sid, points="C4", user_id=ALICE, frame=30))
    await rig.emulator.faults.holding()
    await asyncio.to_thread(flush_writes)
    # Kling has not answered yet, and frame 30 is decoded and on disk.
    assert not mark.done() and board_frame_path(cache, 30).is_file()
    decoded = full_reads.count
    BOARD_FRAMES.clear()
    rig.emulator.faults.release()
    board = await mark
    assert board.frame_index == 30 and len(board.points_on_frame) == 1
    assert full_reads.count == decoded  # the board read the prepared frame


def test_a_prepared_frame_is_on_disk_and_its_board_does_not_decode_it(
    tmp_path: Path, full_reads: FullReads
) -> None:
    video = flat_video(tmp_path / "v.mp4", (90, 30, 160))
    cache = tmp_path / "frames"
    BOARD_FRAMES.clear()
    prepare_board_frame(video, cache, 14)
    assert full_reads.count == 1
    # Written at once (not queued) with the next frame, and not kept in memory.
    assert board_frame_path(cache, 14).is_file() and board_frame_path(cache, 15).is_file()
    assert len(BOARD_FRAMES) == 0
    prepare_board_frame(video, cache, 14)  # ready already: nothing to do
    pixels = np.asarray(board_frame(video, cache, 14)).astype(int)
    assert full_reads.count == 1
    bar = 14 * 64 * 2 // 3 + 20
    assert pixels[40, bar].min() > 230 and pixels[40, bar + 43].max() < 230


def test_preparing_a_frame_past_the_end_or_of_a_broken_video_leaves_it_to_the_board(
    tmp_path: Path,
) -> None:
    video = flat_video(tmp_path / "v.mp4", (90, 30, 160), frames=4)
    cache = tmp_path / "frames"
    prepare_board_frame(video, cache, 9)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    prepare_board_frame(broken, cache, 1)
    assert not cache.exists() or not list(cache.glob("board-*"))
