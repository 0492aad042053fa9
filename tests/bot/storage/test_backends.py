"""What must hold on both backends beyond the queries themselves: the same schema from both
migration sequences, one writer at a time across processes (two stores on one database stand for
two processes), notifications, and a PostgreSQL that cannot be used said in one sentence."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from bot.config import StartupError, StorageConfig
from bot.config_values import Secret
from bot.storage import JobKind, JobLimits, JobState, NewJob, QuotaExceededError, Store
from bot.storage.db import migration_files
from bot.storage.postgres_backend import postgres_sql
from bot.storage.store import open_store
from tests.bot.storage.conftest import ALICE, BOB, CHANNEL, GUILD, ManualClock
from tests.postgres import PostgresCluster


def new_job(requester: int = ALICE) -> NewJob:
    return NewJob(JobKind.EDIT_REMOVAL, GUILD, CHANNEL, requester, {"prompt": "the red car"})


# -- the schema -------------------------------------------------------------------------------


async def test_both_dialects_end_with_the_same_tables_and_columns(
    tmp_path: Path, postgres_url: str
) -> None:
    sqlite_file = tmp_path / "bot.sqlite3"
    for where in (sqlite_file, postgres_url):
        await (await Store.open(where)).close()
    with sqlite3.connect(sqlite_file) as raw:
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        in_sqlite = {
            (table, column[1], bool(column[3]) or bool(column[5]))  # name, NOT NULL or key
            for table in tables
            for column in raw.execute(f"PRAGMA table_info({table})")
        }
    conn = await asyncpg.connect(postgres_url)
    try:
        rows = await conn.fetch(
            "SELECT c.table_name, c.column_name, c.is_nullable = 'NO' AS required"
            " FROM information_schema.columns c WHERE c.table_schema = 'public'"
        )
        keys = await conn.fetch(
            "SELECT k.table_name, k.column_name FROM information_schema.key_column_usage k"
            " JOIN information_schema.table_constraints t USING (constraint_name, table_name)"
            " WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = 'public'"
        )
    finally:
        await conn.close()
    primary = {(r["table_name"], r["column_name"]) for r in keys}
    in_postgres = {
        (r["table_name"], r["column_name"], r["required"])
        for r in rows
        # A one-column integer primary key is NOT NULL in effect in SQLite (the rowid).
        if (r["table_name"], r["column_name"]) not in primary
    } | {(table, column, True) for table, column in primary}
    # jobs.seq stands for SQLite's implicit rowid (the insertion order of jobs).
    assert in_postgres - in_sqlite == {("jobs", "seq", True)}
    assert in_sqlite - in_postgres == set()


def test_every_migration_has_both_dialects_or_one_portable_file() -> None:
    sqlite, postgres = migration_files("sqlite"), migration_files("postgresql")
    assert [v for v, _, _ in sqlite] == [v for v, _, _ in postgres]
    for (version, lite_name, _), (_, pg_name, _) in zip(sqlite, postgres, strict=True):
        assert lite_name.startswith(f"{version:04d}_")
        portable = lite_name == pg_name and not lite_name.endswith(".sqlite.sql")
        pair = lite_name.endswith(".sqlite.sql") and pg_name.endswith(".postgresql.sql")
        assert portable or pair, (lite_name, pg_name)


def test_translation_leaves_string_literals_alone() -> None:
    sql = "SELECT rowid AS seq, * FROM jobs WHERE a = '?' AND b = ? AND c = 'rowid' ORDER BY rowid"
    assert postgres_sql(sql) == (
        "SELECT * FROM jobs WHERE a = '?' AND b = $1 AND c = 'rowid' ORDER BY seq"
    )
    assert postgres_sql("UPDATE t SET x = ?, y = 'it''s ?' WHERE z = ?") == (
        "UPDATE t SET x = $1, y = 'it''s ?' WHERE z = $2"
    )


async def test_processes_starting_at_once_apply_each_migration_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(postgres_url) for _ in range(4)))
    try:
        versions = await stores[0]._fetchall("SELECT version FROM schema_version ORDER BY 1")
        assert [r["version"] for r in versions] == [v for v, _, _ in migration_files("postgresql")]
        job = await stores[1].create_job(new_job())
        assert (await stores[3].get_job(job.id)) == job
    finally:
        for store in stores:
            await store.close()


async def test_the_bot_opens_what_storage_config_names(tmp_path: Path, postgres_url: str) -> None:
    sqlite_file = tmp_path / "data" / "bot.sqlite3"
    on_file = await open_store(StorageConfig(path=sqlite_file))
    await on_file.close()
    assert on_file.dialect == "sqlite" and sqlite_file.exists()
    sqlite_file.unlink()
    on_server = await open_store(StorageConfig(path=sqlite_file, url=Secret(postgres_url)))
    try:
        assert on_server.dialect == "postgresql"
        assert not sqlite_file.exists()  # [storage] url wins: no SQLite file is made
        assert (await on_server.create_job(new_job())).seq == 1
    finally:
        await on_server.close()


async def test_an_old_postgres_database_is_upgraded_in_order(postgres_url: str) -> None:
    version, name, sql = migration_files("postgresql")[0]
    raw = await asyncpg.connect(postgres_url)
    try:
        await raw.execute(sql)
        await raw.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at DOUBLE PRECISION NOT NULL)"
        )
        await raw.execute("INSERT INTO schema_version VALUES ($1, $2, 0)", version, name)
        await raw.execute(
            "INSERT INTO jobs (id, kind, guild_id, channel_id, requester_id, request_json, state,"
            " created_at, updated_at) VALUES ('old', 'animate', 1, 2, 3, '{}', 'processing', 1, 1)"
        )
    finally:
        await raw.close()
    store = await Store.open(postgres_url)
    try:
        assert await store.schema_version() == len(migration_files("postgresql"))
        await store.transition_job("old", from_states=[JobState.PROCESSING], to=JobState.FAILED)
        events = await store.list_job_events("old")  # the trigger of 0002 logs older rows too
        assert [(e.from_state, e.to_state) for e in events] == [
            (JobState.PROCESSING, JobState.FAILED)
        ]
    finally:
        await store.close()


async def test_a_failed_postgres_migration_leaves_nothing_half_done(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.storage.db as db

    good = migration_files("postgresql")
    broken = [*good, (len(good) + 1, "9999_broken.sql", "CREATE TABLE half (x TEXT);\nNOT SQL;")]
    monkeypatch.setattr(db, "migration_files", lambda dialect="sqlite": broken)
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await Store.open(postgres_url)
    raw = await asyncpg.connect(postgres_url)
    try:
        assert await raw.fetchval("SELECT to_regclass('half')") is None  # rolled back
        assert await raw.fetchval("SELECT MAX(version) FROM schema_version") == len(good)
    finally:
        await raw.close()


# -- writers of several processes -------------------------------------------------------------


async def test_two_processes_cannot_overshoot_the_concurrent_job_limit(
    db_where: str | Path, clock: ManualClock
) -> None:
    first = await Store.open(db_where, clock=clock)
    second = await Store.open(db_where, clock=clock)
    limits = JobLimits(concurrent_jobs_per_guild=3)
    try:
        submits = [
            (first, second)[n % 2].create_job(new_job((ALICE, BOB)[n % 2]), limits=limits)
            for n in range(12)
        ]
        outcomes = await asyncio.gather(*submits, return_exceptions=True)
        created = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, QuotaExceededError)]
        assert (len(created), len(refused)) == (3, 9), outcomes
        assert await first.count_active_jobs(GUILD) == 3
        assert {job.state for job in created} == {JobState.QUEUED}
    finally:
        await first.close()
        await second.close()


async def test_a_transaction_of_one_process_waits_for_the_others(postgres_url: str) -> None:
    first = await Store.open(postgres_url)
    second = await Store.open(postgres_url)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def slow_body(tx: object) -> None:
        inside.set()
        await release.wait()

    try:
        holder = asyncio.create_task(first._write(slow_body))
        await inside.wait()
        blocked = asyncio.create_task(second.create_job(new_job()))
        # The server itself says the other process's write waits for the writers' lock ...
        while not await first._fetchall(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND wait_event = 'advisory' AND datname = current_database()"
        ):
            assert not blocked.done()
            await asyncio.sleep(0.01)
        assert not blocked.done()
        release.set()
        await holder
        job = await blocked  # ... and goes ahead once it is released
        assert job.state is JobState.QUEUED
    finally:
        release.set()
        await first.close()
        await second.close()


# -- notifications ----------------------------------------------------------------------------


async def test_a_listener_hears_notifications_until_it_stops(store: Store) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listening = await store.listen("jobs", heard.put_nowait)
    await store.notify("jobs", "job-1")
    await store.notify("other", "not for us")
    assert await asyncio.wait_for(heard.get(), 5) == "job-1"
    await listening.stop()
    await store.notify("jobs", "job-2")
    # Notifications arrive in order: once a later marker is heard, job-2 would have been too.
    marker: asyncio.Queue[str] = asyncio.Queue()
    await store.listen("marker", marker.put_nowait)
    await store.notify("marker", "done")
    assert await asyncio.wait_for(marker.get(), 5) == "done"
    assert heard.empty()


async def test_postgres_notifications_reach_another_process_and_survive_a_drop(
    postgres_url: str,
) -> None:
    sender = await Store.open(postgres_url)
    receiver = await Store.open(postgres_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    try:
        await receiver.listen("jobs", heard.put_nowait)
        await sender.notify("jobs", "from another process")
        assert await asyncio.wait_for(heard.get(), 5) == "from another process"

        # The server ends the listening connection: the store connects again and listens anew.
        killed = await sender._fetchall(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            " AND datname = current_database()"
        )
        assert killed and all(r[0] for r in killed)
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            await sender.notify("jobs", "after the drop")
            try:
                assert await asyncio.wait_for(heard.get(), 0.2) == "after the drop"
                break
            except TimeoutError:
                assert asyncio.get_running_loop().time() < deadline, "never listened again"
    finally:
        await sender.close()
        await receiver.close()


# -- a database that cannot be used -----------------------------------------------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_postgres_is_one_sentence_without_the_password() -> None:
    port = _closed_port()
    with pytest.raises(StartupError) as error:
        await Store.open(f"postgresql://kling:s3cr3t-pw@127.0.0.1:{port}/bot")
    [problem] = error.value.problems
    assert problem.startswith(f'the PostgreSQL database "bot" at 127.0.0.1:{port} cannot be used')
    assert "s3cr3t-pw" not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


async def test_missing_postgres_database_is_named(postgres_cluster: PostgresCluster) -> None:
    url = postgres_cluster.url("no_such_db").replace("kling@", "kling:pw-123@")
    with pytest.raises(StartupError) as error:
        await Store.open(url)
    [problem] = error.value.problems
    assert 'database "no_such_db" does not exist' in problem
    assert "pw-123" not in problem
