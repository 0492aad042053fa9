"""The bot's database as the tests see it, on either backend: the SQLite file or a PostgreSQL URL.

Tests read it the way an operator would, straight from the database and never through the bot:
SQLite opened read-only (WAL lets us read while the bot writes), PostgreSQL on a connection whose
transactions are read-only. :func:`select` takes SQLite-flavoured SQL (``?`` placeholders) on both.

Story tests choose the backend with the ``storage_backend`` fixture: "sqlite" unless a test module
asks for both with ``from tests.database import both_backends`` (a fixture named
``storage_backend``, one run per backend); ``database`` is then where that test's bot keeps its
data. ``TEST_STORAGE_BACKEND=postgresql`` moves the other tests that use ``database`` (every
``kling_world`` story) to PostgreSQL as well, to look for what differs there.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.storage.postgres_backend import postgres_sql

Database = Path | str  # the SQLite file, or a postgresql:// URL
BACKENDS = ("sqlite", "postgresql")
READ_TIMEOUT_S = 10.0


def is_postgres(database: Database) -> bool:
    return isinstance(database, str) and database.startswith(("postgresql://", "postgres://"))


def select(database: Database, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of one SELECT as dicts; a SQLite file not yet created has no rows."""
    if is_postgres(database):
        return _postgres().select(str(database), sql, params)
    path = Path(database)
    if not path.exists():
        return []
    with read_only(path) as conn:
        conn.row_factory = lambda cursor, row: {
            d[0]: v for d, v in zip(cursor.description, row, strict=True)
        }
        return list(conn.execute(sql, tuple(params)))


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def forget(database: Database) -> None:
    """Close the reading connection to a PostgreSQL database (before it is dropped)."""
    if is_postgres(database) and _reader is not None:
        _reader.forget(str(database))


class _PostgresReader:
    """One event loop on a thread of its own serves every read, so callers may be plain functions
    running inside another loop (as the SQLite reads are); one connection per database is kept,
    since the crash test's watcher reads every few milliseconds."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._connections: dict[str, asyncpg.Connection] = {}
        thread = threading.Thread(target=self._loop.run_forever, name="test-db-reads", daemon=True)
        thread.start()

    def select(self, url: str, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        call = asyncio.run_coroutine_threadsafe(self._select(url, sql, params), self._loop)
        return call.result(READ_TIMEOUT_S)

    def forget(self, url: str) -> None:
        asyncio.run_coroutine_threadsafe(self._close(url), self._loop).result(READ_TIMEOUT_S)

    async def _select(self, url: str, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        conn = self._connections.get(url)
        if conn is None or conn.is_closed():
            conn = await asyncpg.connect(
                url, server_settings={"default_transaction_read_only": "on"}
            )
            self._connections[url] = conn
        records = await conn.fetch(postgres_sql(sql), *params)
        return [dict(record) for record in records]

    async def _close(self, url: str) -> None:
        conn = self._connections.pop(url, None)
        if conn is not None:
            await conn.close(timeout=READ_TIMEOUT_S)


_reader: _PostgresReader | None = None
_reader_lock = threading.Lock()


def _postgres() -> _PostgresReader:
    global _reader
    with _reader_lock:
        if _reader is None:
            _reader = _PostgresReader()
        return _reader


@pytest.fixture(name="storage_backend", params=BACKENDS)
def both_backends(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL (import it into a test module)."""
    return str(request.param)


@pytest.fixture(name="storage_backend")
def sqlite_backend() -> str:
    """The default for tests that do not ask for both: SQLite, as a one-process bot runs (or
    the backend TEST_STORAGE_BACKEND names)."""
    chosen = os.environ.get("TEST_STORAGE_BACKEND", "sqlite")
    if chosen not in BACKENDS:
        pytest.fail(f"TEST_STORAGE_BACKEND={chosen!r}: use one of {', '.join(BACKENDS)}")
    return chosen


@pytest.fixture
def database(
    storage_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Database]:
    """Where this test's bot keeps its data: a SQLite file under tmp_path (not yet created), or
    a fresh, empty PostgreSQL database of its own."""
    if storage_backend == "sqlite":
        yield tmp_path / "data" / "bot.sqlite3"
        return
    url = str(request.getfixturevalue("postgres_url"))
    try:
        yield url
    finally:
        forget(url)
    assert not (tmp_path / "data" / "bot.sqlite3").exists(), "the bot kept its data in SQLite"
