"""`kling-bot backup` when the database is PostgreSQL: it writes nothing, prints the pg_dump and
pg_restore commands without the password, exits 3, and the printed commands really back up and
restore the bot's database on a real throwaway server."""

from __future__ import annotations

import asyncio
import datetime
import os
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from bot.cli import main
from bot.storage import NewSession, Store, VideoInfo
from tests.postgres import PostgresCluster

PASSWORD = "s3cr3t:p@ss"  # as written in a URL: s3cr3t%3Ap%40ss
QUOTED = "s3cr3t%3Ap%40ss"


@pytest.fixture(autouse=True)
def no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml: the environment decides
    monkeypatch.delenv("DATABASE_URL", raising=False)


def backup(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, *args: str
) -> tuple[int, list[str]]:
    monkeypatch.setenv("DATABASE_URL", url)
    status = main(["backup", *args])
    out, err = capsys.readouterr()
    for secret in (PASSWORD, QUOTED):
        assert secret not in out + err
    assert err == ""
    return status, out.splitlines()


def test_it_prints_the_commands_without_the_password_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://kling:{QUOTED}@db.internal:5433/kling_bot"

    status, lines = backup(capsys, monkeypatch, url)

    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    options = "--host=db.internal --port=5433 --username=kling --dbname=kling_bot"
    assert status == 3
    assert lines == [
        'the bot\'s database is the PostgreSQL database "kling_bot" at db.internal:5433: '
        "kling-bot backup copies only SQLite files, so it wrote nothing",
        "back it up with pg_dump (one consistent snapshot, also while the bot runs):",
        f"  pg_dump --format=custom --file=kling-bot-{today}.dump {options}",
        "pg_dump reads the password from PGPASSWORD or a line in ~/.pgpass (chmod 600):",
        "  db.internal:5433:kling_bot:kling:PASSWORD",
        "to restore: stop every bot process, then",
        f"  pg_restore --clean --if-exists {options} kling-bot-{today}.dump",
        "use a pg_dump and pg_restore of the server's major version or newer",
    ]
    assert list(tmp_path.iterdir()) == []


def test_connection_options_without_flags_go_in_a_url_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgres://kling:{QUOTED}@db.internal/kling?sslmode=require"

    status, lines = backup(capsys, monkeypatch, url, "backups/nightly dump.dump")

    assert status == 3
    assert lines[2] == (
        "  pg_dump --format=custom '--file=backups/nightly dump.dump' "
        "'--dbname=postgresql://kling@db.internal/kling?sslmode=require'"
    )


def test_sqlite_without_dest_says_what_to_give(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["backup"]) == 2
    assert capsys.readouterr().err == (
        "kling-bot backup: give DEST, the file to write (e.g. backups/kling-bot.sqlite3)\n"
    )


async def _sessions(url: str, *, add: int = 0) -> int:
    store = await Store.open(url)
    try:
        video = VideoInfo(fps=30.0, width=64, height=64, total_frame=30, duration=1.0)
        for n in range(add):
            await store.start_session(NewSession(1, 100 + n, 7, video))
    finally:
        await store.close()
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM sessions"))
    finally:
        await conn.close()


def test_the_printed_commands_back_up_and_restore_the_database(
    tmp_path: Path,
    postgres_cluster: PostgresCluster,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert asyncio.run(_sessions(postgres_url, add=3)) == 3
    parts = urlsplit(postgres_url)
    url = parts._replace(netloc=f"{parts.username}:{QUOTED}@{parts.hostname}:{parts.port}")
    dump = tmp_path / "kling.dump"

    status, lines = backup(capsys, monkeypatch, url.geturl(), str(dump))
    assert status == 3

    def run(line: str) -> None:
        program, *args = shlex.split(line)
        command = [str(postgres_cluster.bin_dir / program), *args]
        # The trusted test cluster asks for no password; PGPASSWORD is how one is given.
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        subprocess.run(command, check=True, capture_output=True, env=env, timeout=120)

    run(next(line for line in lines if line.startswith("  pg_dump ")))
    assert dump.stat().st_size > 0
    # A mistake after the backup: sessions lost, then the printed restore brings them back.
    asyncio.run(_drop_sessions(postgres_url))
    assert asyncio.run(_sessions(postgres_url)) == 0
    run(next(line for line in lines if line.startswith("  pg_restore ")))
    assert asyncio.run(_sessions(postgres_url)) == 3


async def _drop_sessions(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM sessions")
    finally:
        await conn.close()
