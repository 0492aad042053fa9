from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.storage import (
    MAX_MARKED_FRAMES,
    MAX_POINTS_PER_FRAME,
    PointLimitError,
    SessionConflictError,
    SessionNotActiveError,
    Store,
)
from bot.storage.db import migration_files
from tests.bot.storage.conftest import ALICE, BOB, CHANNEL, GUILD, ManualClock, new_session

KLING_X = 0.7738498789346246  # the float from Kling's own add-selection example
KLING_Y = 0.297142857142857


async def test_fresh_file_gets_every_migration_and_wal(db_path: Path, store: Store) -> None:
    assert await store.schema_version() == max(v for v, _, _ in migration_files())
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "points", "frame_masks", "jobs", "job_events", "guild_settings"} <= tables


async def test_reopen_is_idempotent_and_keeps_data(db_path: Path, clock: ManualClock) -> None:
    first = await Store.open(db_path, clock=clock)
    session = await first.start_session(new_session())
    await first.close()
    second = await Store.open(db_path, clock=clock)
    try:
        with sqlite3.connect(db_path) as raw:
            rows = raw.execute("SELECT version FROM schema_version").fetchall()
        assert len(rows) == len(migration_files())  # nothing applied twice
        again = await second.get_active_session(GUILD, CHANNEL)
        assert again == session
    finally:
        await second.close()


async def test_one_active_session_per_channel(store: Store) -> None:
    first = await store.start_session(new_session())
    with pytest.raises(SessionConflictError) as conflict:
        await store.start_session(new_session(by=BOB))
    assert conflict.value.existing.id == first.id
    # The refused start changed nothing.
    assert (await store.get_active_session(GUILD, CHANNEL)) == first

    other_channel = await store.start_session(new_session(channel_id=CHANNEL + 1))
    assert other_channel.id != first.id

    replacement = await store.start_session(new_session(by=BOB), replace=True)
    assert replacement.created_by == BOB
    old = await store.get_session(first.id)
    assert old is not None and not old.is_active and old.ended_at is not None
    assert (await store.get_active_session(GUILD, CHANNEL)) == replacement


async def test_concurrent_starts_leave_exactly_one_active(store: Store) -> None:
    results = await asyncio.gather(
        *(store.start_session(new_session(by=user)) for user in range(10)),
        return_exceptions=True,
    )
    started = [r for r in results if not isinstance(r, BaseException)]
    assert len(started) == 1
    assert all(isinstance(r, SessionConflictError) for r in results if r not in started)


async def test_end_session_and_then_start_again(store: Store) -> None:
    session = await store.start_session(new_session())
    assert await store.end_session(session.id) is True
    assert await store.end_session(session.id) is False
    assert await store.get_active_session(GUILD, CHANNEL) is None
    with pytest.raises(SessionNotActiveError):
        await store.add_points(session.id, 0, [(0.5, 0.5)], added_by=ALICE)
    fresh = await store.start_session(new_session())
    assert fresh.id != session.id


async def test_session_updates_round_trip(store: Store, clock: ManualClock) -> None:
    session = await store.start_session(new_session())
    await store.set_kling_session(
        session.id,
        kling_session_id="847570360458960960",
        expires_at=clock.now + 86_400,
        normalized_video="https://kling.example/normalized.mp4",
    )
    await store.set_current_frame(session.id, 77)
    await store.set_board_message(session.id, 1234567890123456789)
    got = await store.get_session(session.id)
    assert got is not None
    assert got.kling_session_id == "847570360458960960"
    assert got.kling_expires_at == clock.now + 86_400
    assert got.current_frame == 77
    assert got.board_message_id == 1234567890123456789
    assert got.video.total_frame == 150 and got.video.fps == 30.0


async def test_exact_floats_round_trip(
    store: Store, db_where: str | Path, clock: ManualClock
) -> None:
    session = await store.start_session(new_session())
    awkward = [(KLING_X, KLING_Y), (0.1 + 0.2, 1 / 3), (5e-324, 0.9999999999999999)]
    await store.add_points(session.id, 3, awkward, added_by=ALICE)
    await store.close()
    reopened = await Store.open(db_where, clock=clock)
    try:
        stored = await reopened.list_points(session.id)
        assert [(p.x, p.y) for p in stored] == awkward  # bit-for-bit, not approximately
    finally:
        await reopened.close()


async def test_points_per_frame_limit_is_all_or_nothing(store: Store) -> None:
    session = await store.start_session(new_session())
    await store.add_points(session.id, 0, [(0.1, 0.1)] * 8, added_by=ALICE)
    with pytest.raises(PointLimitError) as error:
        await store.add_points(session.id, 0, [(0.2, 0.2)] * 3, added_by=BOB)
    assert error.value.limit == "points_per_frame"
    assert (error.value.current, error.value.maximum) == (8, MAX_POINTS_PER_FRAME)
    assert len(await store.list_points(session.id)) == 8  # none of the three went in
    await store.add_points(session.id, 0, [(0.2, 0.2)] * 2, added_by=BOB)
    with pytest.raises(PointLimitError):
        await store.check_point_capacity(session.id, 0, 1)


async def test_concurrent_adds_never_exceed_the_frame_limit(store: Store) -> None:
    session = await store.start_session(new_session())
    results = await asyncio.gather(
        *(store.add_points(session.id, 5, [(i / 40, 0.5)], added_by=ALICE) for i in range(25)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == MAX_POINTS_PER_FRAME
    assert all(isinstance(r, PointLimitError) for r in results if isinstance(r, BaseException))
    assert len(await store.list_points(session.id, 5)) == MAX_POINTS_PER_FRAME


async def test_concurrent_adds_never_exceed_the_marked_frames_limit(store: Store) -> None:
    session = await store.start_session(new_session())
    results = await asyncio.gather(
        *(store.add_points(session.id, f, [(0.5, 0.5)], added_by=BOB) for f in range(30)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, PointLimitError)]
    assert len(refused) == 30 - MAX_MARKED_FRAMES
    assert all(r.limit == "marked_frames" for r in refused)
    frames = {p.frame_index for p in await store.list_points(session.id)}
    assert len(frames) == MAX_MARKED_FRAMES
    # A frame already marked still takes more points.
    await store.add_points(session.id, min(frames), [(0.6, 0.6)], added_by=BOB)


async def test_replay_order_undo_and_clear(store: Store, clock: ManualClock) -> None:
    session = await store.start_session(new_session())
    await store.add_points(session.id, 10, [(0.1, 0.1), (0.2, 0.2)], added_by=ALICE)
    clock.now += 5
    await store.add_points(session.id, 2, [(0.3, 0.3)], added_by=BOB)
    clock.now += 5
    await store.add_points(session.id, 10, [(0.4, 0.4)], added_by=ALICE)
    replay = await store.list_points(session.id)
    assert [(p.frame_index, p.x, p.added_by) for p in replay] == [
        (10, 0.1, ALICE),
        (10, 0.2, ALICE),
        (2, 0.3, BOB),
        (10, 0.4, ALICE),
    ]
    last = await store.last_point(session.id)
    assert last is not None and last.x == 0.4

    removed = await store.delete_point(session.id, replay[1].id, masks=[])
    assert removed is not None and (removed.x, removed.y) == (0.2, 0.2)
    assert await store.delete_point(session.id, replay[1].id) is None
    assert [p.x for p in await store.list_points(session.id, 10)] == [0.1, 0.4]

    assert await store.clear_points(session.id) == 3
    assert await store.list_points(session.id) == []
    assert await store.list_frame_masks(session.id) == {}


async def test_undo_refuses_a_point_of_another_session(store: Store) -> None:
    mine = await store.start_session(new_session())
    theirs = await store.start_session(new_session(channel_id=CHANNEL + 7))
    [point] = await store.add_points(theirs.id, 0, [(0.5, 0.5)], added_by=BOB)
    assert await store.delete_point(mine.id, point.id) is None
    assert await store.get_point(point.id) == point


MASK_A = {"object_id": 0, "rle_mask": {"size": [720, 1280], "counts": "PPYo1"}}
MASK_B = {"object_id": 1, "rle_mask": {"size": [720, 1280], "counts": "abc`d"}}


async def test_masks_are_replaced_with_each_answer(store: Store) -> None:
    session = await store.start_session(new_session())
    await store.add_points(session.id, 4, [(0.5, 0.5)], added_by=ALICE, masks=[MASK_A])
    assert await store.get_frame_masks(session.id, 4) == [MASK_A]
    await store.add_points(session.id, 4, [(0.7, 0.5)], added_by=ALICE, masks=[MASK_A, MASK_B])
    assert await store.get_frame_masks(session.id, 4) == [MASK_A, MASK_B]
    await store.set_frame_masks(session.id, 9, [MASK_B])
    assert await store.list_frame_masks(session.id) == {4: [MASK_A, MASK_B], 9: [MASK_B]}
    await store.set_frame_masks(session.id, 9, [])
    assert await store.get_frame_masks(session.id, 9) == []


async def test_points_outlive_the_ended_session_but_not_mutation(store: Store) -> None:
    session = await store.start_session(new_session())
    await store.add_points(session.id, 0, [(0.5, 0.5)], added_by=ALICE)
    await store.end_session(session.id)
    assert len(await store.list_points(session.id)) == 1
    with pytest.raises(SessionNotActiveError):
        await store.clear_points(session.id)
    with pytest.raises(SessionNotActiveError):
        await store.set_current_frame(session.id, 3)


async def test_moving_the_board_adds_to_the_stored_frame_within_the_video(store: Store) -> None:
    session = await store.start_session(new_session())  # 150 frames
    moves = [store.move_current_frame(session.id, 1) for _ in range(5)]
    assert sorted(await asyncio.gather(*moves)) == [1, 2, 3, 4, 5]  # none lost
    assert await store.move_current_frame(session.id, -10) == 0
    assert await store.move_current_frame(session.id, 1000) == 149
    got = await store.get_session(session.id)
    assert got is not None and got.current_frame == 149
    await store.end_session(session.id)
    with pytest.raises(SessionNotActiveError):
        await store.move_current_frame(session.id, 1)
