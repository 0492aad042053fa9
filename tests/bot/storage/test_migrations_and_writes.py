from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.storage import JobKind, JobState, NewJob, Store
from bot.storage.db import migration_files
from tests.bot.storage.conftest import ALICE, CHANNEL, GUILD, ManualClock, new_session


def _apply_only_first_migration(path: Path) -> None:
    version, name, sql = migration_files()[0]
    with sqlite3.connect(path) as raw:
        raw.executescript(sql)
        raw.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)"
        )
        raw.execute("INSERT INTO schema_version VALUES (?, ?, 0)", (version, name))
        raw.execute(
            "INSERT INTO jobs (id, kind, guild_id, channel_id, requester_id, request_json, state,"
            " created_at, updated_at) VALUES ('old', 'animate', 1, 2, 3, '{}', 'processing', 1, 1)"
        )


async def test_an_old_database_is_upgraded_in_order(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "old.sqlite3"
    _apply_only_first_migration(path)
    store = await Store.open(path, clock=clock)
    try:
        assert await store.schema_version() == len(migration_files())
        old = await store.get_job("old")
        assert old is not None and old.state is JobState.PROCESSING
        # The trigger added by the upgrade logs changes of rows written before it.
        await store.transition_job("old", from_states=[JobState.PROCESSING], to=JobState.FAILED)
        events = await store.list_job_events("old")
        assert [(e.from_state, e.to_state) for e in events] == [
            (JobState.PROCESSING, JobState.FAILED)
        ]
    finally:
        await store.close()


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [version for version, _, _ in migration_files()]
    assert versions == list(range(1, len(versions) + 1))


async def test_a_failed_migration_leaves_nothing_half_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.storage.db as db

    good = migration_files()
    broken = [*good, (len(good) + 1, "9999_broken.sql", "CREATE TABLE half (x);\nNOT SQL;")]
    monkeypatch.setattr(db, "migration_files", lambda dialect="sqlite": broken)
    path = tmp_path / "broken.sqlite3"
    with pytest.raises(sqlite3.OperationalError):
        await Store.open(path)
    with sqlite3.connect(path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        top = raw.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert "half" not in tables  # rolled back with its bookkeeping row
    assert top == len(good)


async def test_cancelled_writes_finish_and_leave_the_connection_usable(store: Store) -> None:
    session = await store.start_session(new_session())
    writes = [
        asyncio.create_task(
            store.add_points(session.id, frame, [(0.1, 0.2), (0.3, 0.4)], added_by=ALICE)
        )
        for frame in range(5)
    ]
    await asyncio.sleep(0)
    for task in writes:
        task.cancel()
    await asyncio.gather(*writes, return_exceptions=True)
    points = await store.list_points(session.id)
    per_frame = {p.frame_index: 0 for p in points}
    for point in points:
        per_frame[point.frame_index] += 1
    assert set(per_frame.values()) <= {2}  # each write fully in or fully out, never half
    # No transaction was left open: the next write and a fresh connection both work.
    await store.add_points(session.id, 9, [(0.5, 0.5)], added_by=ALICE)
    job = await store.create_job(NewJob(JobKind.ANIMATE, GUILD, CHANNEL, ALICE, {}))
    assert job.state is JobState.QUEUED


async def test_a_second_connection_sees_committed_writes(
    store: Store, db_where: str | Path, clock: ManualClock
) -> None:
    session = await store.start_session(new_session())
    await store.add_points(session.id, 0, [(0.25, 0.75)], added_by=ALICE)
    other = await Store.open(db_where, clock=clock)
    try:
        assert [(p.x, p.y) for p in await other.list_points(session.id)] == [(0.25, 0.75)]
    finally:
        await other.close()
