"""The database settings crash safety relies on: WAL, a busy timeout, writes in transactions."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.storage import JobKind, JobState, NewJob, Store
from bot.storage.sqlite_backend import BUSY_TIMEOUT_MS
from tests.database import read_only


def new_job() -> NewJob:
    return NewJob(
        kind=JobKind.ANIMATE,
        guild_id=1,
        channel_id=2,
        requester_id=3,
        request={"prompt": "a pan", "image_paths": []},
    )


async def test_the_store_uses_wal_and_waits_for_a_busy_database(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    store = await Store.open(db)
    try:
        with read_only(db) as conn:  # the file's own mode, as any other process sees it
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        [(timeout,)] = await store._conn.execute_fetchall("PRAGMA busy_timeout")
        assert timeout == BUSY_TIMEOUT_MS >= 1000
        [(sync,)] = await store._conn.execute_fetchall("PRAGMA synchronous")
        assert sync in (1, 2)  # NORMAL or FULL: with WAL, a commit survives a killed process

        # Another process holds the write lock for a moment: the bot waits instead of failing.
        locked, release = threading.Event(), threading.Event()

        def hold_write_lock() -> None:
            other = sqlite3.connect(db, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE schema_version SET applied_at = applied_at")
            locked.set()
            release.wait(5)
            other.execute("COMMIT")
            other.close()

        holder = threading.Thread(target=hold_write_lock)
        holder.start()
        await asyncio.to_thread(locked.wait, 5)
        loop = asyncio.get_running_loop()
        loop.call_later(0.4, release.set)
        started = loop.time()
        job = await store.create_job(new_job())
        waited = loop.time() - started
        await asyncio.to_thread(holder.join, 5)
        assert job.state is JobState.QUEUED and waited >= 0.3
    finally:
        await store.close()


async def test_a_write_that_fails_halfway_leaves_nothing_behind(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    store = await Store.open(db)
    try:
        job = await store.create_job(new_job())

        async def half_then_fail(conn: object) -> None:
            await store._conn.execute(
                "UPDATE jobs SET state = 'submitting', event_detail = 'half' WHERE id = ?",
                (job.id,),
            )
            raise RuntimeError("the process dies here")

        with pytest.raises(RuntimeError):
            await store._write(half_then_fail)
        stored = await store.get_job(job.id)
        assert stored is not None and stored.state is JobState.QUEUED
        events = await store._conn.execute_fetchall(
            "SELECT to_state FROM job_events WHERE job_id = ?", (job.id,)
        )
        assert [e[0] for e in events] == ["queued"]  # the trigger's event row went too
    finally:
        await store.close()
