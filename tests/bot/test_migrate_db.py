"""`kling-bot migrate-db`: a bot's SQLite file, filled through the Store, copied into a real
throwaway PostgreSQL database through the command line; every row of every table compared, a
target that already holds bot data left as it was, a failed copy leaving nothing behind, and the
target taken from DATABASE_URL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import struct
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.storage import JobKind, JobState, NewJob, Store
from tests.bot.migrate_db_support import (
    ALICE,
    AWKWARD,
    GUILD,
    ORDER,
    OTHER_GUILD,
    digest,
    postgres_rows,
    run_cli,
    session,
    source,
    with_password,
)
from tests.bot.storage.conftest import ManualClock

__all__ = ["source"]  # fixtures pytest finds here by name


def sqlite_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.row_factory = sqlite3.Row
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name != 'schema_version'"
            )
        ]
        found = {}
        for table in tables:
            query = f'SELECT rowid AS "rowid", * FROM "{table}" ORDER BY rowid'  # noqa: S608
            rows = conn.execute(query)
            found[table] = [dict(row) for row in rows]
        return found


def bits(value: Any) -> Any:
    """Floats by their 64 bits (== would take -0.0 for 0.0), everything else as it is."""
    return ("float", struct.pack("<d", value)) if isinstance(value, float) else value


def test_round_trip_copies_every_row_of_every_table_exactly(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sqlite_rows(source)
    unchanged = digest(source)
    assert set(before) == set(ORDER), "a table was added: extend ORDER"

    status, out, err = run_cli(capsys, "--from", str(source), "--to", with_password(postgres_url))

    assert (status, err) == (0, "")
    lines = out.splitlines()
    database = urlsplit(postgres_url).path.lstrip("/")
    assert lines[0].startswith(
        f'copied {source} (schema version 6) into the PostgreSQL database "{database}" at '
        f"127.0.0.1:{urlsplit(postgres_url).port} in "
    )
    counted = {line.strip().split(":")[0]: line.strip() for line in lines[2:-1]}
    assert counted == {
        table: f"{table}: {len(rows)} = {len(rows)}" for table, rows in before.items()
    }
    # Referenced tables come before the tables that reference them.
    order = list(counted)
    assert order.index("sessions") < order.index("points")
    assert order.index("jobs") < order.index("job_events")
    assert lines[-1].startswith("all 8 tables match: set DATABASE_URL")
    assert digest(source) == unchanged  # read-only: not a byte changed

    after = asyncio.run(postgres_rows(postgres_url, list(before), ORDER))
    for table, rows in before.items():
        copied = after[table]
        assert len(copied) == len(rows), table
        for old, new in zip(rows, copied, strict=True):
            rowid = old.pop("rowid")
            if table == "jobs":
                assert new.pop("seq") == rowid  # insertion order kept
            assert {k: bits(v) for k, v in new.items()} == {k: bits(v) for k, v in old.items()}
    # The awkward coordinates, read back through the Store on PostgreSQL.
    asyncio.run(_check_the_copy_works_on(postgres_url, before))


async def _check_the_copy_works_on(url: str, before: dict[str, list[dict[str, Any]]]) -> None:
    store = await Store.open(url, clock=ManualClock(1_770_000_000.0))
    try:
        first = before["sessions"][0]["id"]
        points = await store.list_points(first)
        assert [(p.x, p.y) for p in points] == AWKWARD
        assert (await store.get_settings(GUILD)).disabled_channels == {333, OTHER_GUILD}
        # A copied job's next transition still logs its event (the triggers are back on).
        waiting = before["jobs"][2]["id"]
        events = len(await store.list_job_events(waiting))
        await store.cancel_job(waiting, "moved to PostgreSQL")
        logged = await store.list_job_events(waiting)
        assert len(logged) == events + 1 and logged[-1].to_state is JobState.CANCELLED
        # New rows get ids past the copied ones.
        fresh = await store.start_session(session(444))
        assert fresh.id == max(row["id"] for row in before["sessions"]) + 1
        job = await store.create_job(NewJob(JobKind.ANIMATE, GUILD, 444, ALICE, {}, fresh.id))
        assert job.seq == len(before["jobs"]) + 1
        (point,) = await store.add_points(fresh.id, 0, [(0.5, 0.5)], added_by=ALICE)
        assert point.id == max(row["id"] for row in before["points"]) + 1
    finally:
        await store.close()


def test_a_target_with_bot_data_is_refused_and_left_as_it_was(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = with_password(postgres_url)
    assert run_cli(capsys, "--from", str(source), "--to", target)[0] == 0

    status, out, err = run_cli(capsys, "--from", str(source), "--to", target)

    assert (status, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("kling-bot migrate-db: the PostgreSQL database already holds bot data (")
    assert "never merges" in err
    rows = asyncio.run(postgres_rows(postgres_url, ["sessions"], ORDER))
    assert len(rows["sessions"]) == 3  # nothing added twice


def test_a_failure_mid_copy_leaves_the_target_empty_with_its_triggers(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A value PostgreSQL's column cannot take, in a table copied after sessions and jobs.
    with contextlib.closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("UPDATE job_events SET at = 'yesterday' WHERE id = 2")

    status, out, err = run_cli(capsys, "--from", str(source), "--to", with_password(postgres_url))

    assert (status, out) == (2, "")
    assert err == "kling-bot migrate-db: a row of job_events.at holds a str, not a number\n"
    rows = asyncio.run(postgres_rows(postgres_url, list(ORDER), ORDER))
    assert all(not found for found in rows.values())

    async def new_job_logs_its_event() -> None:
        store = await Store.open(postgres_url)
        try:
            job = await store.create_job(NewJob(JobKind.ANIMATE, GUILD, 1, ALICE, {}))
            assert [e.to_state for e in await store.list_job_events(job.id)] == [JobState.QUEUED]
        finally:
            await store.close()

    asyncio.run(new_job_logs_its_event())


def test_the_target_can_come_from_database_url(
    source: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", with_password(postgres_url))

    status, out, _ = run_cli(capsys, "--from", str(source))

    assert status == 0
    assert "  sessions: 3 = 3" in out.splitlines()
