"""The SQLite backend: one aiosqlite connection per process, the default storage.

All statements of the process go through one aiosqlite connection (a single worker thread). An
``asyncio.Lock`` serialises them so that one coroutine's transaction never interleaves with another
coroutine's statements on the shared connection. Write transactions are ``BEGIN IMMEDIATE``: other
processes' writers wait (``busy_timeout``) instead of interleaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.storage import db
from bot.storage.db import Body, Clock, Listening, LocalListeners, Row

log = logging.getLogger(__name__)

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000


class SqliteTx:
    """A write transaction's statements on the connection (the lock is already held)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._conn.execute(sql, tuple(params)) as cursor:
            return cursor.rowcount

    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, [tuple(p) for p in params])

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._conn.execute(sql, tuple(params)) as cursor:
            row: Row | None = await cursor.fetchone()
            return row


class SqliteBackend:
    dialect = "sqlite"
    integrity_errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.connection = conn
        self._lock = asyncio.Lock()
        self._closed = False
        self._listeners = LocalListeners()

    @classmethod
    async def open(cls, path: str | Path, clock: Clock) -> SqliteBackend:
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
            await _apply_migrations(conn, clock)
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def close(self) -> None:
        if self._closed:
            return
        async with self._lock:  # let the current statement or transaction finish
            self._closed = True
            await self.connection.close()

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
        # execute_fetchall is one hop to the connection's thread (execute + fetch: two).
        async with self._lock:
            return list(await self.connection.execute_fetchall(sql, tuple(params)))

    async def write_statement(self, sql: str, params: Sequence[Any]) -> list[Row]:
        async with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            return list(await self.connection.execute_fetchall(sql, tuple(params)))

    async def transaction(self, body: Body[T]) -> T:
        async with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                result = await body(SqliteTx(self.connection))
            except BaseException:
                await self.connection.execute("ROLLBACK")
                raise
            await self.connection.execute("COMMIT")
            return result

    async def read(self, body: Body[T]) -> T:
        # Under the lock no other statement of this process runs in between.
        async with self._lock:
            return await body(SqliteTx(self.connection))

    async def notify(self, channel: str, payload: str) -> None:
        # One process owns a SQLite database (SPEC §11): its own listeners are all there are.
        self._listeners.dispatch(channel, payload)

    async def listen(self, channel: str, handler: Callable[[str], None]) -> Listening:
        return self._listeners.add(channel, handler)


async def _apply_migrations(conn: aiosqlite.Connection, clock: Clock) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    async with conn.execute("SELECT version FROM schema_version") as cursor:
        applied = {int(row[0]) for row in await cursor.fetchall()}
    for version, name, sql in db.migration_files("sqlite"):
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
