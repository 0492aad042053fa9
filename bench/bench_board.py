"""Board redraw after a change (a mark), from the frame to the encoded image, for 4K, 2160x1216
and 1080p videos with three object masks and four numbered points.

Both sides load the frame, draw and encode with the same encoder and settings (JPEG quality 90,
4:4:4, the board's format), and every call draws a new state (one point moves a little), so no
encoded board is reused:
- naive: read the frame from the session's full-resolution PNG cache (as the board did before
  keeping board-size frames), then draw and encode;
- board: the bot's path (bot.editing.boards), the frame already at board size in memory; also
  with the memory cache emptied before each call (the frame comes back from its .npy on disk).
Then what a member waits for after a mark: build_board with a real SQLite store (read points
and masks, draw, encode), with the goal; the same state asked again (the encoded board kept);
and the first view of a frame (decode from the video, RGB, shrink; the .npy is written after).

Prints best, median and worst of each, and the same-run ratio of medians and of worst cases.
Run: .venv/bin/python bench/bench_board.py
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bot.editing import boards
from bot.editing.board_cache import (
    BOARD_FRAMES,
    ENCODED_BOARDS,
    board_frame,
    flush_writes,
    full_frame,
)
from bot.grid import BoardGrid
from bot.masks import encode_rle
from bot.media import write_mp4
from bot.render import render_board
from bot.storage import NewSession, Store, VideoInfo

SIZES = ((3840, 2160), (2160, 1216), (1920, 1080))
REPEATS = 25
GOAL_MS = 25.0  # mark -> board image ready, p50, 1080p with 3 masks
POINTS = [(1, 0.31, 0.55), (2, 0.74, 0.32), (3, 0.75, 0.8)]
CAPTION = "frame 0 · 0.00 s"


def video_like_frame(width: int, height: int, seed: int = 2) -> np.ndarray:
    """Smooth gradients, a few flat shapes and mild grain: compresses like a real frame."""
    rng = np.random.default_rng(seed)
    k = width / 3840  # shapes scale with the frame
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.stack(
        [80 + 100 * xx / width, 60 + 120 * yy / height, 140 - 60 * (xx + yy) / (width + height)],
        axis=-1,
    )
    for _ in range(12):
        top, left = rng.integers(0, height - 300 * k), rng.integers(0, width - 400 * k)
        rows, columns = int(rng.integers(100, 300) * k), int(rng.integers(100, 400) * k)
        frame[top : top + rows, left : left + columns] = rng.integers(0, 255, 3)
    frame += rng.normal(0, 2.0, frame.shape).astype(np.float32)
    return np.clip(frame, 0, 255).astype(np.uint8)


def three_objects(width: int, height: int) -> list[np.ndarray]:
    yy, xx = np.ogrid[:height, :width]
    # The shapes are laid out on a 4K frame; smaller frames get the same shapes scaled down.
    yy, xx = yy * (2160 / height), xx * (3840 / width)
    person = ((xx - 1200) / 350.0) ** 2 + ((yy - 1200) / 800.0) ** 2 < 1
    car = (yy > 1400) & (yy < 1900) & (xx > 2200) & (xx < 3500) & (yy - 1400 > (xx - 2200) / 8)
    ball = (xx - 2900) ** 2 + (yy - 700) ** 2 < 220**2
    return [m.astype(np.uint8) for m in (person, car, ball)]


Stats = tuple[float, float, float]  # best, median, worst (ms)


def stats(samples: list[float]) -> Stats:
    return min(samples), statistics.median(samples), max(samples)


def timed(funcs: list[Callable[[], object]], repeats: int = REPEATS) -> list[Stats]:
    """Milliseconds per call for each function, interleaved so background load hits all."""
    samples: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeats):
        for func, out in zip(funcs, samples, strict=True):
            start = time.perf_counter()
            func()
            out.append((time.perf_counter() - start) * 1e3)
    return [stats(s) for s in samples]


def line(name: str, figures: Stats, reference: Stats | None = None, note: str = "") -> None:
    best, median, worst = figures
    text = f"  {name:<52} {best:7.1f} {median:7.1f} {worst:7.1f}"
    if reference is not None:
        text += f"   ratio median {median / reference[1]:.3f}, worst {worst / reference[2]:.3f}"
    print(text + (f"  {note}" if note else ""))


class Case:
    """One video of one size, its session in a real store, its frame caches on disk."""

    def __init__(self, folder: Path, width: int, height: int) -> None:
        self.folder, self.width, self.height = folder, width, height
        self.video = folder / f"video-{width}x{height}.mp4"
        self.grid = BoardGrid.for_frame(width, height)
        self.masks: list[dict[str, Any]] = [
            {"object_id": n, "rle_mask": encode_rle(m)}
            for n, m in enumerate(three_objects(width, height), start=1)
        ]
        self.moves = 0
        self.store: Store | None = None
        self.session_id = 0

    async def open(self) -> None:
        frame = video_like_frame(self.width, self.height)
        await asyncio.to_thread(write_mp4, [frame, frame], self.video, 30)
        self.store = await Store.open(self.folder / "bot.db")
        session = await self.store.start_session(
            NewSession(
                guild_id=1,
                channel_id=1,
                created_by=1,
                video=VideoInfo(
                    fps=30, width=self.width, height=self.height, total_frame=2, duration=2 / 30
                ),
                local_path=str(self.video),
            )
        )
        self.session_id = session.id
        for _, x, y in POINTS:
            await self.store.add_points(session.id, 0, [(x, y)], added_by=7, masks=self.masks)

    @property
    def cache(self) -> Path:
        return boards.session_dir(self.folder, self.session_id) / "frames"

    def numbered(self) -> list[tuple[int, float, float]]:
        """The three points and a fourth that moves: every call draws a state not seen yet."""
        self.moves += 1
        return [*POINTS, (4, 0.5 + (self.moves % 997) * 1e-4, 0.5)]

    def naive(self) -> bytes:
        frame = full_frame(self.video, self.cache, 0)
        pairs = [(m["object_id"], m["rle_mask"]) for m in self.masks]
        return render_board(
            frame, pairs, self.numbered(), self.grid, CAPTION, image_format=boards.BOARD_FORMAT
        )

    def board(self) -> bytes:
        return boards._render(
            self.video, self.cache, 0, self.masks, self.numbered(), self.grid, CAPTION
        )

    def board_from_disk(self) -> bytes:
        BOARD_FRAMES.clear()
        return self.board()

    def first_view(self) -> object:
        self.forget_frames()
        return board_frame(self.video, self.cache, 0)

    def forget_frames(self) -> None:
        # The previous call's frames may still be on their way to the disk: let them land
        # before the cache is emptied, or the next call would find them and decode nothing.
        flush_writes()
        BOARD_FRAMES.clear()
        shutil.rmtree(self.cache, ignore_errors=True)

    def first_views(self, repeats: int) -> Stats:
        """A frame never shown before, made ready for the board (the emptying not counted)."""
        samples = []
        for _ in range(repeats):
            self.forget_frames()
            start = time.perf_counter()
            board_frame(self.video, self.cache, 0)
            samples.append((time.perf_counter() - start) * 1e3)
        return stats(samples)

    async def after_mark(self, repeats: int = REPEATS) -> tuple[Stats, Stats]:
        """build_board right after a stored mark (a new state), and the same state again."""
        if self.store is None:
            raise RuntimeError("open() first")
        fresh: list[float] = []
        again: list[float] = []
        for _ in range(repeats):
            _, x, y = self.numbered()[-1]
            added = await self.store.add_points(
                self.session_id, 0, [(x, y)], added_by=8, masks=self.masks
            )
            session = await self.store.get_session(self.session_id)
            if session is None:
                raise RuntimeError("the session went away")
            for samples in (fresh, again):
                start = time.perf_counter()
                await boards.build_board(self.store, session, self.folder)
                samples.append((time.perf_counter() - start) * 1e3)
            await self.store.delete_point(self.session_id, added[0].id, masks=self.masks)
        return stats(fresh), stats(again)


async def bench(folder: Path, width: int, height: int) -> None:
    case = Case(folder, width, height)
    await case.open()
    case.first_view()
    for func in (case.naive, case.board):  # warm: the PNG cache and the board-size frame exist
        func()
    naive, board, disk = timed([case.naive, case.board, case.board_from_disk])
    board_frame(case.video, case.cache, 0)
    mark, again = await case.after_mark()
    first = case.first_views(repeats=5)
    print(
        f"frame {width}x{height}, 3 RLE masks, 4 points -> board 1280x"
        f"{round(height * 1280 / width)} JPEG; ms: best  median   worst"
    )
    line("naive: full-res PNG cache + draw + encode", naive)
    line("board: board-size frame (memory) + draw + encode", board, naive)
    line("board: board-size frame (disk .npy) + draw + encode", disk, naive)
    goal = f"(goal p50 <= {GOAL_MS:.0f} ms at 1080p)" if (width, height) == (1920, 1080) else ""
    line("mark -> board ready (build_board, SQLite + draw)", mark, note=goal)
    line("same state again (encoded board kept)", again)
    line("first view of a frame (decode, RGB, shrink)", first)
    if case.store is not None:
        await case.store.close()
    ENCODED_BOARDS.clear()
    BOARD_FRAMES.clear()


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        for width, height in SIZES:
            folder = Path(scratch) / f"{width}x{height}"
            folder.mkdir()
            await bench(folder, width, height)


if __name__ == "__main__":
    asyncio.run(main())
