"""The selection-unsure marker in SQLite: migration 0003, and the writes that set and clear it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.storage import PointLimitError, SessionNotActiveError, Store
from bot.storage.db import migration_files
from tests.bot.storage.conftest import ALICE, ManualClock, new_session

MASKS = [{"object_id": 0, "rle_mask": {"size": [2, 3], "counts": "231"}}]


async def unsure(store: Store, session_id: int) -> bool:
    session = await store.get_session(session_id)
    assert session is not None
    return session.selection_unsure


async def test_sessions_stored_before_0003_read_as_in_step(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)"
        )
        for version, name, sql in migration_files():
            if version < 3:
                raw.executescript(sql)
                raw.execute("INSERT INTO schema_version VALUES (?, ?, 0)", (version, name))
        raw.execute(
            "INSERT INTO sessions (guild_id, channel_id, created_by, fps, width, height,"
            " total_frame, duration, kling_session_id, created_at)"
            " VALUES (1, 2, 3, 24, 1280, 720, 48, 2, 'k-1', 0)"
        )
    store = await Store.open(path, clock=clock)
    try:
        session = await store.get_active_session(1, 2)
        assert session is not None and session.selection_unsure is False
        await store.mark_selection_unsure(session.id)
        assert await unsure(store, session.id)
    finally:
        await store.close()
    with sqlite3.connect(path) as raw, pytest.raises(sqlite3.IntegrityError):
        raw.execute("UPDATE sessions SET selection_unsure = 2")


async def test_each_write_that_records_klings_answer_clears_the_mark(store: Store) -> None:
    session = await store.start_session(new_session())
    assert not await unsure(store, session.id)

    await store.mark_selection_unsure(session.id)
    await store.add_points(session.id, 4, [(0.5, 0.5)], added_by=ALICE, masks=MASKS)
    assert await unsure(store, session.id)  # a plain write says nothing about Kling
    [point] = await store.add_points(
        session.id, 4, [(0.25, 0.75)], added_by=ALICE, masks=MASKS, settle_selection=True
    )
    assert not await unsure(store, session.id)

    await store.mark_selection_unsure(session.id)
    await store.delete_point(session.id, point.id, masks=MASKS, settle_selection=True)
    assert not await unsure(store, session.id)

    await store.mark_selection_unsure(session.id)
    assert await store.clear_points(session.id, settle_selection=True) == 1
    assert not await unsure(store, session.id)

    await store.mark_selection_unsure(session.id)
    await store.settle_selection(session.id)
    assert not await unsure(store, session.id)


async def test_a_refused_write_leaves_the_mark(store: Store) -> None:
    session = await store.start_session(new_session())
    await store.mark_selection_unsure(session.id)
    with pytest.raises(ValueError, match="no points"):
        await store.add_points(session.id, 0, [], added_by=ALICE, settle_selection=True)
    ten = [(i / 20, 0.5) for i in range(10)]
    await store.add_points(session.id, 0, ten, added_by=ALICE)
    with pytest.raises(PointLimitError):
        await store.add_points(session.id, 0, [(0.9, 0.9)], added_by=ALICE, settle_selection=True)
    assert await unsure(store, session.id)  # rolled back with the insert


async def test_new_kling_session_masks_and_mark_in_one_write(
    store: Store, clock: ManualClock
) -> None:
    session = await store.start_session(new_session())
    await store.add_points(session.id, 3, [(0.5, 0.5)], added_by=ALICE, masks=MASKS)
    await store.set_frame_masks(session.id, 8, MASKS)  # a stale frame: no point is on it
    await store.mark_selection_unsure(session.id)
    replayed = [{"object_id": 0, "rle_mask": {"size": [2, 3], "counts": "33"}}]
    await store.set_kling_session(
        session.id,
        kling_session_id="k-2",
        expires_at=clock.now + 60,
        normalized_video=None,
        masks_by_frame={3: replayed},
        selection_unsure=False,
    )
    got = await store.get_session(session.id)
    assert got is not None and got.kling_session_id == "k-2" and not got.selection_unsure
    assert await store.list_frame_masks(session.id) == {3: replayed}

    # Without the keywords the masks and the mark are left as they were.
    await store.mark_selection_unsure(session.id)
    await store.set_kling_session(
        session.id, kling_session_id="k-3", expires_at=clock.now + 60, normalized_video=None
    )
    assert await unsure(store, session.id)
    assert await store.list_frame_masks(session.id) == {3: replayed}


async def test_ended_sessions_cannot_be_marked(store: Store) -> None:
    session = await store.start_session(new_session())
    await store.end_session(session.id)
    with pytest.raises(SessionNotActiveError):
        await store.mark_selection_unsure(session.id)
    await store.settle_selection(session.id)  # harmless: nothing to settle
    assert not await unsure(store, session.id)
