"""The selection-unsure mark: Kling's clicks and the stored points never drift apart unnoticed.

A selection-changing call (add, delete, clear) is made with the session marked unsure in SQLite;
the write that stores Kling's answer clears the mark. When the answer is lost after Kling acted
(the emulator processes the request, then drops the connection or answers 5xx), or the bot dies
before the write, the mark stays, and the next action that calls Kling starts a new Kling session
replaying the stored points. Checked against the emulator's own record of the session's clicks.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.editing import EditingService
from bot.editing.renewal import kling_may_have_acted
from bot.kling import KlingClient, KlingError, make_provider
from bot.kling.errors import (
    InvalidInputError,
    MalformedResponseError,
    NetworkError,
    RateLimitError,
    SelectionRejectedError,
    ServerError,
)
from bot.storage import Store
from tests.bot.editing.conftest import ALICE, BOB, Rig

Clicks = Counter[tuple[int, float, float]]
NETWORK = "The bot could not reach Kling; please try again later."


def kling_clicks(rig: Rig, kling_session_id: str | None) -> Clicks:
    """The clicks the emulator's selection session holds, as (frame, x, y)."""
    assert kling_session_id is not None
    held = rig.emulator.store.sessions[kling_session_id]
    return Counter((frame, c.x, c.y) for frame, clicks in held.clicks.items() for c in clicks)


async def stored_clicks(store: Store, session_id: int) -> Clicks:
    return Counter((p.frame_index, p.x, p.y) for p in await store.list_points(session_id))


async def unsure(store: Store, session_id: int) -> bool:
    session = await store.get_session(session_id)
    assert session is not None
    return session.selection_unsure


async def assert_in_step(rig: Rig, session_id: int, store: Store | None = None) -> None:
    """Kling's session holds exactly the stored points, and the mark is clear."""
    store = store or rig.store
    session = await store.get_session(session_id)
    assert session is not None and not session.selection_unsure
    assert kling_clicks(rig, session.kling_session_id) == await stored_clicks(store, session_id)


@pytest.mark.parametrize(
    ("error", "acted"),
    [
        (NetworkError("refused", request_sent=False), False),
        (NetworkError("timed out"), True),
        (ServerError("boom", http_status=500, code=5000), True),
        (MalformedResponseError("html", http_status=502), True),
        (MalformedResponseError("cut off", http_status=200), True),
        (MalformedResponseError("proxy page", http_status=403), False),
        (InvalidInputError("bad", http_status=400, code=1201), False),
        (SelectionRejectedError("no", selection_status=1, http_status=200), False),
        (RateLimitError("slow down", http_status=429, code=1302), False),
        (asyncio.CancelledError(), True),
        (RuntimeError("a bug"), True),
    ],
)
def test_which_failures_may_have_changed_klings_selection(
    error: BaseException, acted: bool
) -> None:
    assert kling_may_have_acted(error) is acted


async def test_mark_is_set_during_the_call_and_cleared_with_the_stored_answer(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await rig.open()
    assert not await unsure(rig.store, sid)
    seen: list[bool] = []
    real_add = rig.service.client.add_selection

    async def add_noting_the_mark(*args: Any) -> Any:
        seen.append(await unsure(rig.store, sid))  # what a crash right now would leave
        return await real_add(*args)

    monkeypatch.setattr(rig.service.client, "add_selection", add_noting_the_mark)
    mark = rig.service.mark(sid, points="C4", user_id=ALICE, frame=3)
    board = await mark
    assert board.total_points == 1 and seen == [True]
    await assert_in_step(rig, sid)
    inits = rig.calls["init-selection"]
    await rig.service.undo(sid, user_id=ALICE)
    await rig.service.mark(sid, points="0.72,0.35", user_id=BOB, frame=3)
    await rig.service.clear(sid, user_id=BOB)
    await assert_in_step(rig, sid)
    assert rig.calls["init-selection"] == inits  # nothing was ever renewed


@pytest.mark.parametrize("fault", ["code 1201", "code 1301", "reject"])
async def test_definite_refusal_clears_the_mark_and_renews_nothing(rig: Rig, fault: str) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=2)
    if fault == "reject":
        rig.emulator.faults.reject("add-selection")
    else:
        rig.emulator.faults.fail("add-selection", int(fault.removeprefix("code ")))
    with pytest.raises(KlingError) as error:
        await rig.service.mark(sid, points="0.72,0.35", user_id=BOB, frame=2)
    assert error.value.user_message
    assert not await unsure(rig.store, sid)
    await assert_in_step(rig, sid)
    inits = rig.calls["init-selection"]
    await rig.service.undo(sid, user_id=ALICE)
    assert rig.calls["init-selection"] == inits
    await assert_in_step(rig, sid)


@pytest.mark.parametrize("fault", ["drop", "code 5000"])
async def test_lost_add_answer_is_repaired_by_the_next_action(rig: Rig, fault: str) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=2)
    masks_before = await rig.store.list_frame_masks(sid)
    old = await rig.store.get_session(sid)
    assert old is not None
    if fault == "drop":
        rig.emulator.faults.drop("add-selection", after_handler=True)
    else:
        rig.emulator.faults.fail("add-selection", 5000, after_handler=True)
    with pytest.raises(KlingError) as error:
        await rig.service.mark(sid, points="0.72,0.35", user_id=BOB, frame=2)
    assert error.value.user_message  # the usual message for the failure
    # Kling took the click; the database did not, and says so.
    assert kling_clicks(rig, old.kling_session_id)[(2, 0.72, 0.35)] == 1
    assert await stored_clicks(rig.store, sid) == Counter({(2, 0.25, 3.5 / 6): 1})
    assert await rig.store.list_frame_masks(sid) == masks_before
    assert await unsure(rig.store, sid)

    inits = rig.calls["init-selection"]
    board = await rig.service.mark(sid, points="C4", user_id=BOB, frame=9)
    assert rig.calls["init-selection"] == inits + 1
    assert board.total_points == 2
    await assert_in_step(rig, sid)
    renewed = await rig.store.get_session(sid)
    assert renewed is not None and renewed.kling_session_id != old.kling_session_id
    masks = await rig.store.list_frame_masks(sid)
    assert masks[2] == masks_before[2]  # the replayed frame shows only the stored click
    assert sorted(masks) == [2, 9]


async def test_lost_undo_answer_puts_the_click_back(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4 0.72,0.35", user_id=ALICE, frame=4)
    old = await rig.store.get_session(sid)
    assert old is not None
    rig.emulator.faults.drop("delete-selection", after_handler=True)
    with pytest.raises(KlingError, match="NetworkError") as error:
        await rig.service.undo(sid, user_id=ALICE)
    assert error.value.user_message == NETWORK
    assert sum(kling_clicks(rig, old.kling_session_id).values()) == 1  # Kling deleted it
    assert sum((await stored_clicks(rig.store, sid)).values()) == 2  # the database did not
    assert await unsure(rig.store, sid)

    board = await rig.service.undo(sid, user_id=ALICE)  # renew, replay both, then delete one
    assert board.total_points == 1
    await assert_in_step(rig, sid)


async def test_unreadable_clear_answer_is_repaired_by_the_next_action(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=1)
    rig.emulator.faults.malformed("clear-selection", "truncated_json")
    with pytest.raises(KlingError) as error:
        await rig.service.clear(sid, user_id=ALICE)
    assert error.value.user_message == "Kling sent an unreadable answer; please try again later."
    assert await unsure(rig.store, sid) and len(await rig.store.list_points(sid)) == 1
    await rig.service.mark(sid, points="0.72,0.35", user_id=BOB, frame=1)
    await assert_in_step(rig, sid)
    assert sum((await stored_clicks(rig.store, sid)).values()) == 2


async def test_clear_on_an_unsure_session_starts_an_empty_one(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=1)
    rig.emulator.faults.drop("add-selection", after_handler=True)
    with pytest.raises(KlingError):
        await rig.service.mark(sid, points="0.72,0.35", user_id=BOB, frame=1)
    adds, clears = rig.calls["add-selection"], rig.calls.get("clear-selection", 0)
    board = await rig.service.clear(sid, user_id=BOB)
    assert board.total_points == 0
    assert (rig.calls["add-selection"], rig.calls.get("clear-selection", 0)) == (adds, clears)
    await assert_in_step(rig, sid)
    assert await rig.store.list_frame_masks(sid) == {}


async def test_preview_and_submit_read_the_stored_selection(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=0)
    rig.emulator.faults.fail("add-selection", 5000, after_handler=True)
    with pytest.raises(KlingError):
        await rig.service.mark(sid, points="0.72,0.35", user_id=ALICE, frame=0)
    # Reads that do not call Kling leave the Kling session alone.
    inits = rig.calls["init-selection"]
    await rig.service.board(sid)
    await rig.service.goto_frame(sid, frame=10)
    assert rig.calls["init-selection"] == inits and await unsure(rig.store, sid)

    await rig.service.preview(sid)
    assert rig.calls["init-selection"] == inits + 1
    await assert_in_step(rig, sid)

    # Once more lost, then the final edit: it must name a Kling session holding the stored clicks.
    rig.emulator.faults.drop("add-selection", after_handler=True)
    with pytest.raises(KlingError):
        await rig.service.mark(sid, points="0.72,0.35", user_id=ALICE, frame=0)
    plan = await rig.service.plan_edit(sid, kind="removal", prompt="the ball", user_id=BOB)
    await rig.runner.stop()  # only the stored request matters here
    job = await rig.service.submit(plan)
    assert rig.calls["init-selection"] == inits + 2
    await assert_in_step(rig, sid)
    session = await rig.store.get_session(sid)
    assert session is not None and job.request["session_id"] == session.kling_session_id


async def test_a_restart_with_the_mark_set_renews_and_replays(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot dies after Kling took a click and before the database recorded it (its task
    cancelled, its database closed); a new process on the same file repairs the selection."""
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=6)
    old = await rig.store.get_session(sid)
    assert old is not None
    real_add = rig.service.client.add_selection
    answered = asyncio.Event()

    async def add_then_die(*args: Any) -> Any:
        await real_add(*args)
        answered.set()
        await asyncio.Event().wait()  # the process is killed here, before the write

    monkeypatch.setattr(rig.service.client, "add_selection", add_then_die)
    mark = asyncio.create_task(rig.service.mark(sid, points="0.72,0.35", user_id=BOB, frame=6))
    async with asyncio.timeout(5):
        await answered.wait()
    mark.cancel()
    with pytest.raises(asyncio.CancelledError):
        await mark
    await rig.store.close()
    assert kling_clicks(rig, old.kling_session_id)[(6, 0.72, 0.35)] == 1

    store = await Store.open(tmp_path / "bot.db", clock=rig.clock.now)
    try:
        assert await unsure(store, sid)
        assert sum((await stored_clicks(store, sid)).values()) == 1
        async with aiohttp.ClientSession() as http:
            client = KlingClient(http, make_provider("emulator", base_url=rig.emulator.base_url))
            service = EditingService(
                store, client, rig.runner, http=http, media_dir=rig.media_dir, clock=rig.clock.now
            )
            inits = rig.calls["init-selection"]
            board = await service.undo(sid, user_id=ALICE)
        assert board.total_points == 0
        assert rig.calls["init-selection"] == inits + 1
        await assert_in_step(rig, sid, store)
        renewed = await store.get_session(sid)
        assert renewed is not None and kling_clicks(rig, renewed.kling_session_id) == Counter()
    finally:
        await store.close()


async def test_a_failed_renewal_keeps_the_mark(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=3)
    rig.emulator.faults.drop("add-selection", after_handler=True)
    with pytest.raises(KlingError):
        await rig.service.mark(sid, points="0.72,0.35", user_id=ALICE, frame=3)
    before = await rig.store.get_session(sid)
    # The replay into the new Kling session is refused: nothing is stored, the mark stays,
    # even though the error itself is a definite refusal.
    rig.emulator.faults.fail("add-selection", 1201)
    with pytest.raises(KlingError):
        await rig.service.mark(sid, points="0.72,0.35", user_id=ALICE, frame=3)
    assert await rig.store.get_session(sid) == before and await unsure(rig.store, sid)
    board = await rig.service.mark(sid, points="0.72,0.35", user_id=ALICE, frame=3)
    assert board.total_points == 2
    await assert_in_step(rig, sid)
