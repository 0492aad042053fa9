"""Kling's limits checked before calling it, one Kling call at a time per session, and the 24 h
session expiry handled by replaying the stored points on a new Kling session."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.errors import UserFacingError
from bot.masks import decode_rle
from bot.storage import PointLimitError
from tests.bot.editing.conftest import ALICE, BOB, HEIGHT, WIDTH, Rig

DAY = 24 * 3600


def spans_overlap(spans: list[tuple[str, float, float]]) -> bool:
    ordered = sorted(spans, key=lambda s: s[1])
    return any(b[1] < a[2] for a, b in itertools.pairwise(ordered))


async def test_eleventh_point_and_eleventh_frame_refused_before_kling(rig: Rig) -> None:
    sid = await rig.open()
    ten = " ".join(f"{0.05 + i * 0.09:.2f},0.1" for i in range(10))
    await rig.service.mark(sid, points=ten, user_id=ALICE, frame=0)
    for frame in range(1, 10):
        await rig.service.mark(sid, points="C4", user_id=BOB, frame=frame)
    adds = rig.calls["add-selection"]
    assert adds == 10

    with pytest.raises(UserFacingError) as error:
        await rig.service.mark(sid, points="C4", user_id=ALICE, frame=0)
    assert "at most 10 points per frame" in error.value.user_message
    with pytest.raises(UserFacingError, match="at most 10 points per frame"):
        await rig.service.mark(sid, points=ten, user_id=ALICE, frame=9)  # 1 + 10
    with pytest.raises(PointLimitError) as limit:
        await rig.service.mark(sid, points="C4", user_id=ALICE, frame=10)
    assert limit.value.limit == "marked_frames"
    assert "at most 10 marked frames" in limit.value.user_message
    # A frame that is already marked still takes points.
    await rig.service.mark(sid, points="D4", user_id=ALICE, frame=9)

    assert rig.calls["add-selection"] == adds + 1
    board = await rig.service.board(sid)
    assert len(board.marked_frames) == 10 and board.total_points == 20


async def test_concurrent_marks_never_overlap_at_kling(rig: Rig) -> None:
    sid = await rig.open()
    # Every add-selection takes 40 ms at Kling: unserialised calls would overlap for sure.
    rig.emulator.faults.latency(0.04, endpoint="add-selection")
    rig.call_log.spans.clear()
    marks = [
        rig.service.mark(sid, points=text, user_id=user, frame=frame)
        for frame, (text, user) in enumerate(
            [("C4", ALICE), ("0.72,0.35", BOB), ("C4", BOB), ("0.72,0.35", ALICE)] * 2
        )
    ]
    boards = await asyncio.gather(*marks)
    spans = rig.call_log.selection_spans()
    assert len(spans) == 8 and not spans_overlap(spans)
    assert sorted(b.frame_index for b in boards) == list(range(8))
    points = await rig.store.list_points(sid)
    assert len(points) == 8 and sorted(p.frame_index for p in points) == list(range(8))
    # Every frame has masks, and the clicked object is selected under each point.
    masks = await rig.store.list_frame_masks(sid)
    assert sorted(masks) == list(range(8))
    for point in points:
        decoded = [decode_rle(m["rle_mask"]) for m in masks[point.frame_index]]
        row, column = int(point.y * HEIGHT), int(point.x * WIDTH)
        assert any(mask[row, column] for mask in decoded)

    # The detector works: the same calls made straight to the client do overlap.
    session = await rig.store.get_session(sid)
    assert session is not None and session.kling_session_id
    rig.call_log.spans.clear()
    await asyncio.gather(
        *[
            rig.service.client.add_selection(session.kling_session_id, 20 + i, [(0.5, 0.9)])
            for i in range(2)
        ]
    )
    assert spans_overlap(rig.call_log.selection_spans())


def emulator_clicks(rig: Rig, kling_session_id: str) -> list[tuple[int, float, float]]:
    session = rig.emulator.store.sessions[kling_session_id]
    return sorted(
        ((frame, c.x, c.y) for frame, clicks in session.clicks.items() for c in clicks),
        key=lambda item: item[0],
    )


async def test_expired_session_is_renewed_and_points_replayed(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=5)
    await rig.service.mark(sid, points="0.7213,0.3517", user_id=BOB, frame=10)
    await rig.service.mark(sid, points="33.3%,61.7%", user_id=ALICE, frame=5)
    before = await rig.store.get_session(sid)
    assert before is not None and before.kling_session_id
    stored = [(p.frame_index, p.x, p.y) for p in await rig.store.list_points(sid)]
    masks_before = await rig.store.list_frame_masks(sid)

    rig.clock.advance(DAY + 60)  # Kling's session (and our record of it) has expired
    inits, adds = rig.calls["init-selection"], rig.calls["add-selection"]
    board = await rig.service.mark(sid, points="0.72,0.35", user_id=BOB, frame=20)

    after = await rig.store.get_session(sid)
    assert after is not None and after.kling_session_id != before.kling_session_id
    assert after.kling_expires_at == pytest.approx(rig.clock.now() + DAY)
    assert rig.fresh_url_calls == [sid]
    assert rig.calls["init-selection"] == inits + 1
    # Replayed as runs in the original order (5, 10, 5), then the new mark.
    assert rig.calls["add-selection"] == adds + 4
    new_clicks = emulator_clicks(rig, after.kling_session_id)
    assert sorted(new_clicks) == sorted([*stored, (20, 0.72, 0.35)])  # the exact floats
    assert [c[1:] for c in new_clicks if c[0] == 5] == [s[1:] for s in stored if s[0] == 5]
    masks = await rig.store.list_frame_masks(sid)
    assert sorted(masks) == [5, 10, 20]
    # The replay rebuilt exactly the selection Kling had before.
    assert masks[5] == masks_before[5] and masks[10] == masks_before[10]
    assert board.total_points == 4 and board.expires_at == after.kling_expires_at

    # Undo on the renewed session still matches Kling's exact floats.
    board = await rig.service.undo(sid, user_id=ALICE)
    assert board.total_points == 3


async def test_session_kling_forgot_is_renewed_on_1203(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=2)
    session = await rig.store.get_session(sid)
    assert session is not None and session.kling_session_id
    # Kling dropped the session early (our own record says it is still valid).
    del rig.emulator.store.sessions[session.kling_session_id]
    board = await rig.service.undo(sid, user_id=ALICE)
    assert board.total_points == 0
    renewed = await rig.store.get_session(sid)
    assert renewed is not None and renewed.kling_session_id != session.kling_session_id
    assert emulator_clicks(rig, renewed.kling_session_id) == []
    assert rig.service.selections.renewals == 1


async def test_clear_after_expiry_starts_an_empty_session(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4 0.72,0.35", user_id=ALICE, frame=2)
    adds = rig.calls["add-selection"]
    rig.clock.advance(DAY + 1)
    board = await rig.service.clear(sid, user_id=BOB)
    assert board.total_points == 0
    assert rig.calls["add-selection"] == adds  # nothing replayed only to be cleared
    assert rig.calls.get("clear-selection", 0) == 0
    session = await rig.store.get_session(sid)
    assert session is not None and session.kling_expires_at == pytest.approx(rig.clock.now() + DAY)
