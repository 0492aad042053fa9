"""`kling-bot backup DEST`: a consistent copy of a WAL-mode database that is being written to."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.storage import Store

PADDING = "x" * 4000  # makes each row take a page, so the database is megabytes, not kilobytes


def insert_job(conn: sqlite3.Connection, n: int) -> None:
    conn.execute(
        "INSERT INTO jobs (id, kind, guild_id, channel_id, requester_id, request_json, state, "
        "created_at, updated_at) VALUES (?, 'animate', 1, 2, 3, ?, 'queued', ?, ?)",
        (uuid.uuid4().hex, json.dumps({"n": n, "pad": PADDING}), time.time(), time.time()),
    )


class Writer(threading.Thread):
    """Another connection (as the running bot is) committing one job per transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.committed = 0
        self.stop = threading.Event()
        self.started_writing = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.conn.execute("BEGIN IMMEDIATE")
            insert_job(self.conn, self.committed)
            self.conn.execute("COMMIT")
            self.committed += 1
            self.started_writing.set()
        self.conn.close()


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    """The bot's real schema (migrations applied, WAL mode), with a session and 1,500 jobs."""
    path = tmp_path / "data" / "bot.sqlite3"
    store = await Store.open(path)
    await store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(
        "INSERT INTO sessions (guild_id, channel_id, created_by, fps, width, height, "
        "total_frame, duration, created_at) VALUES (1, 2, 3, 24, 1280, 720, 120, 5, ?)",
        (time.time(),),
    )
    conn.execute("BEGIN")
    for n in range(1500):
        insert_job(conn, n)
    conn.execute("COMMIT")
    conn.close()
    return path


@pytest.fixture
def config(tmp_path: Path, database: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\npath = "{database}"\nmedia_dir = "{tmp_path / "media"}"\n')
    return path


@pytest.fixture
def writer(database: Path) -> Iterator[Writer]:
    thread = Writer(database)
    # Committed rows stay in the -wal file: a plain copy of the database file misses them.
    thread.conn.execute("PRAGMA wal_autocheckpoint = 0")
    thread.start()
    assert thread.started_writing.wait(10)
    yield thread
    thread.stop.set()
    thread.join(10)


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
    finally:
        conn.close()


def test_backup_while_another_connection_writes(
    tmp_path: Path,
    config: Path,
    database: Path,
    writer: Writer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    naive = tmp_path / "naive-copy.sqlite3"
    shutil.copyfile(database, naive)
    before = writer.committed
    dest = tmp_path / "backup.sqlite3"

    assert main(["backup", str(dest), "--config", str(config)]) == 0
    after = writer.committed

    # The bot kept writing during the backup, and the copy is one consistent snapshot of it.
    assert after > before
    conn = sqlite3.connect(f"{dest.as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        numbers = sorted(
            json.loads(r[0])["n"] for r in conn.execute("SELECT request_json FROM jobs")
        )
    finally:
        conn.close()
    assert 1500 + before <= jobs <= 1500 + after
    # Every commit up to the snapshot is there, none half-written: the writer's numbers count
    # up from 0 without a gap.
    assert numbers == sorted([*range(1500), *range(jobs - 1500)])
    assert count(dest, "sessions") == 1
    # A plain file copy would have lost the rows still in the -wal file.
    assert count(naive, "jobs") < 1500 + before
    # One self-contained file: nothing else was left beside it.
    assert sorted(p.name for p in tmp_path.glob("backup*")) == ["backup.sqlite3"]

    out = capsys.readouterr().out.splitlines()
    size_mib = dest.stat().st_size / (1024 * 1024)
    assert out[0] == f"wrote {dest} ({size_mib:.1f} MiB), integrity check ok"
    assert out[1].endswith(f"tables; sessions: 1 rows, jobs: {jobs} rows")


def test_backup_refuses_to_overwrite_without_force(
    tmp_path: Path,
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "backup.sqlite3"
    dest.write_bytes(b"last week's backup")

    assert main(["backup", str(dest), "--config", str(config)]) == 1
    assert dest.read_bytes() == b"last week's backup"
    assert f"{dest} already exists: choose another name, or add --force" in capsys.readouterr().err

    assert main(["backup", str(dest), "--force", "--config", str(config)]) == 0
    assert count(dest, "jobs") == 1500


def test_backup_without_a_database_says_so(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "nothing.sqlite3"}"\n')
    assert main(["backup", str(tmp_path / "b.sqlite3"), "--config", str(config)]) == 1
    assert "no database at" in capsys.readouterr().err
    # The backup must not create an empty database where the real one was expected.
    assert not (tmp_path / "nothing.sqlite3").exists()
    assert not (tmp_path / "b.sqlite3").exists()


def test_backup_help_says_how_to_restore(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["backup", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "To restore: stop the bot, copy the backup over the database path ([storage] path), "
        "remove the database's -wal and -shm files next to it, then start the bot."
    ) in text
