"""The one SQLite connection of the process: pragmas, migrations, and the transaction helper.

All statements of the process go through one aiosqlite connection (a single worker thread). An
``asyncio.Lock`` serialises them so that one coroutine's transaction never interleaves with another
coroutine's statements on the shared connection. Write transactions are shielded from cancellation:
when the caller is cancelled (graceful shutdown), the transaction still commits or rolls back before
the cancellation propagates, so the connection is never left inside an open transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
Body = Callable[[aiosqlite.Connection], Awaitable[T]]

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
BUSY_TIMEOUT_MS = 5000


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every bundled migration, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("bot.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


class Database:
    """Owns the connection; the query mixins of :class:`bot.storage.Store` build on it."""

    def __init__(self, conn: aiosqlite.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def _connect(cls, path: str | Path, clock: Clock | None = None) -> aiosqlite.Connection:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; transactions are explicit BEGIN IMMEDIATE … COMMIT.
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await _apply_migrations(conn, clock or time.time)
        except BaseException:
            await conn.close()
            raise
        return conn

    def now(self) -> float:
        return self._clock()

    async def close(self) -> None:
        if self._closed:
            return
        async with self._lock:  # let the current statement or transaction finish
            self._closed = True
            await self._conn.close()

    async def schema_version(self) -> int:
        row = await self._fetchone("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row and row["v"] is not None else 0

    # -- helpers used by the query mixins -------------------------------------------------

    async def _fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        # execute_fetchall is one hop to the connection's thread (execute + fetch: two).
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, tuple(params)))

    async def _write_statement(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """One statement (atomic on its own, triggers included), e.g. ``UPDATE … RETURNING``."""

        async def run() -> list[aiosqlite.Row]:
            async with self._lock:
                if self._closed:
                    raise RuntimeError("the store is closed")
                return list(await self._conn.execute_fetchall(sql, tuple(params)))

        return await _finish_even_if_cancelled(run())

    async def _write(self, body: Body[T]) -> T:
        """Run ``body`` in one IMMEDIATE transaction; commit, or roll back on any error."""
        return await _finish_even_if_cancelled(self._run_transaction(body))

    async def _run_transaction(self, body: Body[T]) -> T:
        async with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = await body(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")
            return result


async def fetch_one(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any]
) -> aiosqlite.Row | None:
    """One row inside a transaction body (which already holds the lock, unlike ``_fetchone``)."""
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _finish_even_if_cancelled(write: Awaitable[T]) -> T:
    """Await a write; if the caller is cancelled meanwhile, finish the write, then re-raise."""
    task = asyncio.ensure_future(write)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


async def _apply_migrations(conn: aiosqlite.Connection, clock: Clock) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    async with conn.execute("SELECT version FROM schema_version") as cursor:
        applied = {int(row[0]) for row in await cursor.fetchall()}
    for version, name, sql in migration_files():
        if version in applied:
            continue
        # executescript() commits anything pending first, so the whole migration and its
        # bookkeeping row are wrapped in one explicit transaction inside the script itself.
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{sql}\n;\n"
            f"INSERT INTO schema_version (version, name, applied_at) "
            f"VALUES ({version}, '{name}', {clock()!r});\n"
            "COMMIT;"
        )
        try:
            await conn.executescript(script)
        except Exception:
            with contextlib.suppress(Exception):
                await conn.execute("ROLLBACK")
            log.exception("migration %s failed", name)
            raise
        log.info("applied migration %s", name)
