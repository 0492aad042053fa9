"""`kling-bot migrate-db` refusing before it copies: a source or target that is not the bot's, a
running bot, an unreachable or unknown PostgreSQL database and a wrong password: each one line on
stderr, and the URL's password never printed."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from bot.health import heartbeat_path, write_heartbeat
from tests.bot.migrate_db_support import (
    ORDER,
    PASSWORD,
    digest,
    fill,
    postgres_rows,
    run_cli,
    source,
    with_password,
)
from tests.postgres import SUPERUSER, PostgresCluster, find_bin_dir

__all__ = ["source"]  # fixtures pytest finds here by name


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
