"""Marks waiting on one session share board drawings: the board is drawn for the latest state,
not once per queued mark, and every member still gets an answer (SPEC §3)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bot.editing import BoardView, boards
from tests.bot.editing.conftest import ALICE, BOB, Rig

CELLS = ("B2", "C4", "E2", "F5", "H3")


class GatedRender:
    """Once armed, counts board drawings; the first one waits (in its worker thread) for the
    gate."""

    def __init__(self, real: Callable[..., bytes]) -> None:
        self.real = real
        self.armed = False
        self.drawn: list[list[tuple[int, float, float]]] = []  # the numbered points of each
        self.gate = threading.Event()

    def arm(self) -> None:
        self.drawn.clear()
        self.armed = True

    def __call__(self, frame: Any, masks: Any, points: Any, *args: Any, **kwargs: Any) -> bytes:
        if self.armed:
            self.drawn.append(list(points))
            if len(self.drawn) == 1:
                self.gate.wait(60)
        return self.real(frame, masks, points, *args, **kwargs)


async def until(condition: Callable[[], Any], what: str) -> None:
    """Poll for something that does happen (a drawing held in a worker thread has no event to
    wait on); fails with ``what`` after 30 s."""
    try:
        async with asyncio.timeout(30):
            while not await condition():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(what)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> GatedRender:
    spy = GatedRender(boards.render_board)
    monkeypatch.setattr(boards, "render_board", spy)
    return spy


async def test_five_queued_marks_are_drawn_together_and_all_answered(
    rig: Rig, gated: GatedRender
) -> None:
    sid = await rig.open()
    gated.arm()
    rig.emulator.faults.stall("add-selection")  # Kling holds the first mark's call
    marks = [
        asyncio.create_task(rig.service.mark(sid, points=cell, user_id=(ALICE, BOB)[i % 2]))
        for i, cell in enumerate(CELLS)
    ]
    try:
        async with asyncio.timeout(30):
            await rig.emulator.faults.holding(1)
        rig.emulator.faults.release()

        # The first mark's drawing is held; the others still reach Kling one at a time, are
        # stored, and wait for a board: drawing happens after the session's lock is let go.
        async def all_stored() -> bool:
            return len(await rig.store.list_points(sid)) == len(CELLS)

        await until(all_stored, "every mark stored while the first drawing is held")

        async def all_waiting() -> bool:
            return rig.service.redraws.waiting(sid, 0) == len(CELLS)

        await until(all_waiting, "every mark waits for a board")
    finally:
        gated.gate.set()
    async with asyncio.timeout(30):
        answers: list[BoardView] = await asyncio.gather(*marks)

    # One drawing for the first mark, one for the four that queued behind it.
    assert len(gated.drawn) == 2 < len(CELLS)
    assert [len(p) for p in gated.drawn] == [1, len(CELLS)]
    assert rig.calls["add-selection"] == len(CELLS)
    assert all(a.session_id == sid and a.frame_index == 0 for a in answers)
    assert len(answers[0].points_on_frame) == 1  # as it was when that member was answered
    for later in answers[1:]:
        assert [p.number for p in later.points_on_frame] == [1, 2, 3, 4, 5]
        assert later.image is answers[-1].image
    final = await rig.service.board(sid)
    assert len(final.points_on_frame) == len(CELLS)
    assert final.image == answers[-1].image
    assert len(gated.drawn) == 2  # the same state is not drawn again


async def test_a_mark_is_answered_on_its_own_frame_when_a_later_one_moved_the_board(
    rig: Rig, gated: GatedRender
) -> None:
    sid = await rig.open()
    gated.arm()
    first = asyncio.create_task(rig.service.mark(sid, points="C4", user_id=ALICE))
    try:

        async def first_drawing() -> bool:
            return len(gated.drawn) == 1

        await until(first_drawing, "the first mark's drawing started")
        second = await rig.service.mark(sid, points="F5", user_id=BOB, frame=10)
    finally:
        gated.gate.set()
    async with asyncio.timeout(30):
        answer = await first
    assert (answer.frame_index, len(answer.points_on_frame)) == (0, 1)
    assert (second.frame_index, len(second.points_on_frame)) == (10, 1)
    assert answer.marked_frames in (((0, 1),), ((0, 1), (10, 1)))
    session = await rig.store.get_session(sid)
    assert session is not None and session.current_frame == 10


async def test_a_failed_drawing_does_not_stop_the_next(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await rig.open()
    real = boards.render_board
    failures = [RuntimeError("disk gone")]

    def flaky(*args: Any, **kwargs: Any) -> bytes:
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(boards, "render_board", flaky)
    with pytest.raises(RuntimeError, match="disk gone"):
        await rig.service.mark(sid, points="C4", user_id=ALICE)
    board = await rig.service.mark(sid, points="F5", user_id=BOB)
    assert len(board.points_on_frame) == 2
    assert rig.service.redraws.waiting(sid, 0) == 0
