"""`kling-bot migrate-db`: a bot's SQLite file, filled through the Store, copied into a real
throwaway PostgreSQL database through the command line; every row of every table compared, the
copy's refusals and errors one line each, and the URL's password never printed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.cli import main
from bot.health import heartbeat_path, write_heartbeat
from bot.storage import JobKind, JobState, NewJob, NewSession, Store, VideoInfo
from tests.bot.storage.conftest import ManualClock
from tests.postgres import SUPERUSER, PostgresCluster, find_bin_dir

GUILD = 1_234_567_890_123_456_789  # 63-bit Discord ids
OTHER_GUILD = 9_223_372_036_854_775_807  # the largest 63-bit id
ALICE = 987_654_321_098_765_432
PASSWORD = "Pa:ss@w%rd/42"  # characters a URL must escape
QUOTED_PASSWORD = "Pa%3Ass%40w%25rd%2F42"
# Coordinates whose last bits a 32-bit or decimal round trip would change.
AWKWARD = [
    (0.1 + 0.2, 1 / 3),
    (math.nextafter(0.5, 1.0), 5e-324),
    (0.9999999999999999, 2.220446049250313e-16),
    (0.0, 1.0),
]


def with_password(url: str) -> str:
    """The test cluster trusts loopback, so any password is accepted: and must never show."""
    parts = urlsplit(url)
    netloc = f"{parts.username}:{QUOTED_PASSWORD}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["migrate-db", *args])
    out, err = capsys.readouterr()
    for text in (out, err):
        assert PASSWORD not in text and QUOTED_PASSWORD not in text
        assert "Traceback" not in text
    return status, out, err


def session(channel: int, *, emoji: str = "") -> NewSession:
    return NewSession(
        guild_id=GUILD,
        channel_id=channel,
        created_by=ALICE,
        video=VideoInfo(fps=29.97002997002997, width=1920, height=1080, total_frame=301,
                        duration=10.043366666666667),
        source_message_id=OTHER_GUILD - channel,
        source_url=f"https://cdn.example/clip{emoji}.mp4",
        source_attachment_id=None,
        local_path=f"/media/séance {emoji}.mp4",
    )  # fmt: skip


async def fill(path: Path) -> None:
    """Everything the bot keeps, written the way the bot writes it."""
    clock = ManualClock(1_760_000_000.123456)
    store = await Store.open(path, clock=clock)
    try:
        first = await store.start_session(session(111, emoji="🎬✨"))
        second = await store.start_session(session(222))
        await store.add_points(first.id, 0, AWKWARD[:2], added_by=ALICE, masks=[{"rle": "a"}])
        await store.add_points(first.id, 7, AWKWARD[2:], added_by=OTHER_GUILD)
        await store.set_frame_masks(second.id, 3, [{"rle": "🙂", "size": [1080, 1920]}])
        await store.set_kling_session(
            first.id, kling_session_id="k-1", expires_at=1_760_003_600.5, normalized_video=None
        )
        await store.end_session(second.id)
        third = await store.start_session(session(222))  # a new active one where one ended
        await store.mark_selection_unsure(third.id)
        jobs = []
        for n, kind in enumerate([JobKind.EDIT_REMOVAL, JobKind.EDIT_SWAP, JobKind.ANIMATE]):
            clock.now += 1.5
            jobs.append(
                await store.create_job(
                    NewJob(kind, GUILD, 111, ALICE, {"prompt": f"ünïcode 🚗 {n}"}, first.id)
                )
            )
        done, failed, _waiting = jobs
        for to in (JobState.SUBMITTING, JobState.SUBMITTED):
            clock.now += 0.25
            await store.transition_job(done.id, from_states=list(JobState), to=to)
        await store.transition_job(
            done.id, from_states=[JobState.SUBMITTED], to=JobState.SUCCEEDED,
            detail="Kling finished", units=0.7000000000000001, kling_task_id="task-1",
            result_url="https://kling.example/r.mp4",
        )  # fmt: skip
        await store.claim_delivery(done.id)
        await store.mark_delivered(done.id, OTHER_GUILD - 1)
        await store.transition_job(
            failed.id, from_states=[JobState.QUEUED], to=JobState.FAILED, detail="refused: 🙅"
        )
        await store.update_settings(
            GUILD, submit_role_id=OTHER_GUILD, daily_jobs_per_member=None, default_mode="pro",
            disabled_channels={333, OTHER_GUILD},
        )  # fmt: skip
        await store.update_settings(OTHER_GUILD, sessions_in_threads=True)
        await store.get_or_create_secret("picker-signing-key", lambda: "s3cret-ключ")
    finally:
        await store.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "kling-bot.sqlite3"
    asyncio.run(fill(path))
    return path


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


async def postgres_rows(url: str, tables: list[str], keys: dict[str, str]) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        found = {}
        for table in tables:
            query = f'SELECT * FROM "{table}" ORDER BY {keys[table]}'  # noqa: S608
            found[table] = [dict(row) for row in await conn.fetch(query)]
        return found
    finally:
        await conn.close()


def bits(value: Any) -> Any:
    """Floats by their 64 bits (== would take -0.0 for 0.0), everything else as it is."""
    return ("float", struct.pack("<d", value)) if isinstance(value, float) else value


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The order SQLite numbered each table's rows in, as a PostgreSQL ORDER BY.
ORDER = {
    "sessions": "id",
    "points": "id",
    "frame_masks": "session_id, frame_index",
    "jobs": "seq",
    "job_events": "id",
    "guild_settings": "guild_id",
    "disabled_channels": "guild_id, channel_id",
    "bot_secrets": "name",
}


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


def test_a_table_it_does_not_know_stops_it_before_copying(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")

    status, _, err = run_cli(capsys, "--from", str(source), "--to", postgres_url)

    assert status == 2
    assert err == (
        "kling-bot migrate-db: the source has a table notes that the PostgreSQL schema lacks: "
        "migrate-db does not know how to copy it\n"
    )
    rows = asyncio.run(postgres_rows(postgres_url, ["sessions"], ORDER))
    assert rows["sessions"] == []


def test_a_target_with_tables_that_are_not_the_bots_is_refused(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def add_table() -> None:
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute("CREATE TABLE invoices (id BIGINT PRIMARY KEY)")
        finally:
            await conn.close()

    asyncio.run(add_table())

    status, _, err = run_cli(capsys, "--from", str(source), "--to", postgres_url)

    assert status == 2
    assert err == (
        "kling-bot migrate-db: the PostgreSQL database has a table invoices that is not the "
        "bot's: give migrate-db a database of its own\n"
    )
    rows = asyncio.run(postgres_rows(postgres_url, ["sessions"], ORDER))
    assert rows["sessions"] == []


def other_sqlite(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.sqlite3"
    if kind == "not-sqlite":
        path.write_bytes(b"this is a text file, not a database\n" * 50)
    elif kind == "foreign":
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    elif kind == "older":
        asyncio.run(fill(path))
        # Closed here, not whenever it is collected: closing the last connection of a WAL
        # database checkpoints it into the file, which would change the file mid-test.
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("DELETE FROM schema_version WHERE version = 6")
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no SQLite database at {path}: --from must name the bot's database file"),
        ("not-sqlite", "{path} is not a SQLite database, so not a kling-bot one"),
        ("foreign", "{path} is not a kling-bot database (it has no schema_version table)"),
        ("older", "{path} is at schema version 5, this kling-bot at 6: start the bot once on"),
    ],
)
def test_a_source_that_is_not_this_bots_database_is_one_line(
    tmp_path: Path,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    message: str,
) -> None:
    path = other_sqlite(tmp_path, kind)
    unchanged = digest(path) if path.exists() else None

    status, out, err = run_cli(capsys, "--from", str(path), "--to", with_password(postgres_url))

    assert (status, out) == (2, "")
    assert err.startswith("kling-bot migrate-db: " + message.format(path=path)), err
    assert err.count("\n") == 1
    assert not path.exists() if unchanged is None else digest(path) == unchanged


def test_a_running_bot_is_refused(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_heartbeat(heartbeat_path(source), connected=True, servers=2)

    status, _, err = run_cli(capsys, "--from", str(source), "--to", postgres_url)

    assert status == 2
    assert err == (
        f"kling-bot migrate-db: the bot using {source} is running (connected to Discord "
        "(2 servers)): stop it first, so that nothing it writes is left behind\n"
    )


@pytest.fixture
def unused_port() -> Iterator[int]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    yield port


def test_an_unusable_postgresql_is_one_line_without_the_password(
    source: Path,
    postgres_url: str,
    unused_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parts = urlsplit(with_password(postgres_url))
    refused = parts._replace(netloc=parts.netloc.rsplit(":", 1)[0] + f":{unused_port}").geturl()
    missing = parts._replace(path="/no_such_database").geturl()

    status, _, err = run_cli(capsys, "--from", str(source), "--to", refused)
    assert status == 2
    assert err == (
        f'kling-bot migrate-db: the PostgreSQL database "{parts.path.lstrip("/")}" at '
        f"127.0.0.1:{unused_port} cannot be used: Connection refused\n"
    )

    status, _, err = run_cli(capsys, "--from", str(source), "--to", missing)
    assert status == 2
    assert err == (
        f'kling-bot migrate-db: the PostgreSQL database "no_such_database" at '
        f'127.0.0.1:{parts.port} cannot be used: database "no_such_database" does not exist\n'
    )

    status, _, err = run_cli(capsys, "--from", str(source), "--to", "mysql://root@db/kling")
    assert (status, err) == (2, "kling-bot migrate-db: --to must be a postgresql:// URL "
                                "(postgresql://user@host:port/db)\n")  # fmt: skip


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


async def fetchval(url: str, query: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def password_cluster() -> Iterator[tuple[PostgresCluster, str]]:
    """A cluster of its own that asks for a password on loopback (scram-sha-256), so a wrong one
    is really refused: the shared test cluster trusts every connection."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed")
    cluster = PostgresCluster.start(bin_dir)
    try:
        database = cluster.create_database()

        url = cluster.url(database)
        asyncio.run(fetchval(url, f"ALTER ROLE {SUPERUSER} PASSWORD '{PASSWORD}'"))
        hba = Path(asyncio.run(fetchval(url, "SHOW hba_file")))
        hba.write_text("host all all 127.0.0.1/32 scram-sha-256\n")
        assert asyncio.run(fetchval(url, "SELECT pg_reload_conf()"))
        yield cluster, database
    finally:
        cluster.stop()


def test_a_wrong_password_is_one_line_and_the_right_one_copies(
    source: Path,
    password_cluster: tuple[PostgresCluster, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster, database = password_cluster
    url = with_password(cluster.url(database))
    parts = urlsplit(url)
    wrong = parts._replace(netloc=f"{SUPERUSER}:not-it@127.0.0.1:{cluster.port}").geturl()

    status, out, err = run_cli(capsys, "--from", str(source), "--to", wrong)

    assert (status, out) == (2, "")
    assert err == (
        f'kling-bot migrate-db: the PostgreSQL database "{database}" at 127.0.0.1:{cluster.port} '
        f'cannot be used: password authentication failed for user "{SUPERUSER}"\n'
    )
    assert "not-it" not in err

    status, out, err = run_cli(capsys, "--from", str(source), "--to", url)
    assert (status, err) == (0, "")
    assert "  points: 4 = 4" in out.splitlines()
