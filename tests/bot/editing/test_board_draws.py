"""Drawings wait their turn on their own threads (as many as cores): while every drawing thread
is busy, a board already drawn is answered at once, and the rest of the bot's worker threads
(reading Kling's answers, writing downloads) are not held up behind drawings."""

from __future__ import annotations

import asyncio
import threading

from bot.editing import boards
from bot.editing.boards import DRAW_THREADS, draw_off_loop
from tests.bot.editing.conftest import Rig

WAIT = 30.0


class Blocker:
    """Drawings that hold a drawing thread until released."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.changed = threading.Condition()
        self.release = threading.Event()

    def draw(self) -> bytes:
        with self.changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self.changed.notify_all()
        self.release.wait(WAIT)
        with self.changed:
            self.running -= 1
        return b"drawn"

    async def until_running(self, count: int) -> None:
        def wait() -> bool:
            with self.changed:
                return self.changed.wait_for(lambda: self.running >= count, WAIT)

        assert await asyncio.to_thread(wait)


async def test_drawings_run_at_most_draw_threads_at_once_and_in_order() -> None:
    blocker = Blocker()
    queued = [asyncio.create_task(draw_off_loop(blocker.draw)) for _ in range(DRAW_THREADS + 3)]
    await blocker.until_running(DRAW_THREADS)
    # The default executor is not theirs: short jobs still run while every drawing thread waits.
    assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), WAIT) == "free"
    assert blocker.running == DRAW_THREADS
    assert not any(task.done() for task in queued)
    blocker.release.set()
    assert await asyncio.gather(*queued) == [b"drawn"] * len(queued)
    assert blocker.most == DRAW_THREADS


async def test_a_board_already_drawn_is_answered_while_every_drawing_thread_is_busy(
    rig: Rig,
) -> None:
    sid = await rig.open()
    first = await rig.service.goto_frame(sid, frame=3)
    await rig.service.goto_frame(sid, frame=4)
    blocker = Blocker()
    queued = [asyncio.create_task(draw_off_loop(blocker.draw)) for _ in range(DRAW_THREADS + 2)]
    try:
        await blocker.until_running(DRAW_THREADS)
        # Back to frame 3: that board is drawn already, so the member is answered now, not
        # after the drawings queued ahead.
        back = await asyncio.wait_for(rig.service.goto_frame(sid, frame=3), WAIT)
        assert back.frame_index == 3 and back.image == first.image
        assert not any(task.done() for task in queued)
    finally:
        blocker.release.set()
        await asyncio.gather(*queued)


async def test_a_new_board_waits_for_a_drawing_thread_and_is_then_drawn(rig: Rig) -> None:
    sid = await rig.open()
    blocker = Blocker()
    queued = [asyncio.create_task(draw_off_loop(blocker.draw)) for _ in range(DRAW_THREADS)]
    await blocker.until_running(DRAW_THREADS)
    move = asyncio.create_task(rig.service.goto_frame(sid, frame=7))
    blocker.release.set()
    board = await asyncio.wait_for(move, WAIT)
    assert board.frame_index == 7 and board.image[:2] == b"\xff\xd8"  # a JPEG
    await asyncio.gather(*queued)
    assert boards.ENCODED_BOARDS.total_bytes > 0
