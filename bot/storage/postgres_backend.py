"""The PostgreSQL backend (SPEC §11): an asyncpg pool shared by the process's coroutines.

Reads go straight to the pool. Every write (one statement or a transaction body) runs in a
transaction that first takes one transaction-scoped advisory lock: writers of all processes run one
after another, as SQLite's ``BEGIN IMMEDIATE`` makes them, so a check and the write that depends on
it (the quotas of ``create_job``) hold across processes. Under READ COMMITTED each statement after
the lock sees everything committed before it was granted.

The mixins' SQL is SQLite-flavoured; :func:`postgres_sql` makes it PostgreSQL's with the fewest
possible rewrites, all outside string literals:

* ``?`` placeholders become ``$1``, ``$2``, … in order;
* ``rowid AS seq, *`` becomes ``*`` and any other ``rowid`` becomes ``seq``: PostgreSQL's ``jobs``
  table has a ``seq`` identity column standing for SQLite's implicit insertion-order rowid.

Everything else is written portably in the mixins (``CASE`` instead of SQLite's scalar ``MAX``,
``ON CONFLICT DO NOTHING`` instead of ``INSERT OR IGNORE``, ``RETURNING`` instead of
``lastrowid``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import asyncpg

from bot.config import StartupError
from bot.storage import db
from bot.storage.db import Body, Clock, Listening, Row

log = logging.getLogger(__name__)

T = TypeVar("T")
# The key of the one advisory lock all writers take: "klingbot" read as a 64-bit integer.
WRITE_LOCK_KEY = int.from_bytes(b"klingbot", "big") - (1 << 63)
CONNECT_TIMEOUT_S = 10.0
RECONNECT_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_ROWID_STAR = re.compile(r"\browid\s+AS\s+seq\s*,\s*\*", re.IGNORECASE)
_ROWID = re.compile(r"\browid\b", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """SQLite-flavoured SQL of the mixins in PostgreSQL's dialect (see the module docstring)."""
    parts: list[str] = []
    number = 0

    def placeholder(_: re.Match[str]) -> str:
        nonlocal number
        number += 1
        return f"${number}"

    position = 0
    for literal in [*_LITERAL.finditer(sql), None]:
        end = literal.start() if literal else len(sql)
        code = _ROWID.sub("seq", _ROWID_STAR.sub("*", sql[position:end]))
        parts.append(re.sub(r"\?", placeholder, code))
        if literal:
            parts.append(literal.group())
            position = literal.end()
    return "".join(parts)


def _rowcount(status: str) -> int:
    # asyncpg answers a command with its tag: "UPDATE 3", "INSERT 0 1", "DELETE 0".
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresTx:
    """A write transaction's statements on one pooled connection (the lock is held)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        status: str = await self._conn.execute(postgres_sql(sql), *params)
        return _rowcount(status)

    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(postgres_sql(sql), [tuple(p) for p in params])

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.fetch(postgres_sql(sql), *params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = await self._conn.fetchrow(postgres_sql(sql), *params)
        return row


def describe_url(url: str) -> str:
    """``database "name" at host:port`` for messages: never the user's password."""
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/")) or "(default)"
    try:
        port = parts.port or 5432
    except ValueError:
        port = None
    where = f"{parts.hostname or 'localhost'}:{port}" if port else parts.hostname or "localhost"
    return f'the PostgreSQL database "{name}" at {where}'


def _reason(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # "Connection refused", without the address said already
    return str(exc) or type(exc).__name__


def _without_password(text: str, url: str) -> str:
    password = urlsplit(url).password
    for secret in {password, unquote(password or "")} - {None, ""}:
        text = text.replace(str(secret), "***")
    return text


class PostgresBackend:
    dialect = "postgresql"
    integrity_errors: tuple[type[BaseException], ...] = (asyncpg.IntegrityConstraintViolationError,)

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self._url = url
        self._write_lock = asyncio.Lock()  # this process's writers queue here, not on the pool
        self._closed = False
        self._listener = _Listener(url)

    @classmethod
    async def open(cls, url: str, clock: Clock) -> PostgresBackend:
        """Connect and migrate; a database that cannot be used raises a one-line StartupError."""
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=10, timeout=CONNECT_TIMEOUT_S
            )
        except Exception as exc:
            reason = _without_password(_reason(exc), url)
            problem = f"{describe_url(url)} cannot be used: {reason}"
            raise StartupError([f"{problem} (check [storage] url or DATABASE_URL)"]) from None
        try:
            await _apply_migrations(pool, clock)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, url)

    async def close(self) -> None:
        if self._closed:
            return
        async with self._write_lock:  # let the current write finish
            self._closed = True
            await self._listener.close()
            await self._pool.close()

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
        return list(await self._pool.fetch(postgres_sql(sql), *params))

    async def write_statement(self, sql: str, params: Sequence[Any]) -> list[Row]:
        async def body(tx: db.Tx) -> list[Row]:
            return await tx.fetchall(sql, params)

        return await self.transaction(body)

    async def transaction(self, body: Body[T]) -> T:
        async with self._write_lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
                return await body(PostgresTx(conn))

    async def read(self, body: Body[T]) -> T:
        # One snapshot for all of body's statements; no lock: readers never wait for writers.
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await body(PostgresTx(conn))

    async def notify(self, channel: str, payload: str) -> None:
        await self._pool.execute("SELECT pg_notify($1, $2)", channel, payload)

    async def listen(self, channel: str, handler: Callable[[str], None]) -> Listening:
        return await self._listener.add(channel, handler)


class _Listener:
    """LISTEN on one dedicated connection (a pooled one would be handed to others), made again
    when it drops. Notifications sent while it is down are lost: listeners must also look for
    work on their own now and then."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: asyncpg.Connection | None = None
        self._handlers: dict[str, list[Callable[[str], None]]] = {}
        self._guard = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    async def add(self, channel: str, handler: Callable[[str], None]) -> Listening:
        async with self._guard:
            conn = await self._connection()
            if channel not in self._handlers:
                await conn.add_listener(channel, self._deliver)
            self._handlers.setdefault(channel, []).append(handler)
        return _PgListening(self, channel, handler)

    async def remove(self, channel: str, handler: Callable[[str], None]) -> None:
        async with self._guard:
            handlers = self._handlers.get(channel, [])
            if handler in handlers:
                handlers.remove(handler)
            if not handlers and channel in self._handlers:
                del self._handlers[channel]
                if self._conn is not None and not self._conn.is_closed():
                    with contextlib.suppress(Exception):
                        await self._conn.remove_listener(channel, self._deliver)

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconnecting
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=5)
            self._conn = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT_S)
            self._conn.add_termination_listener(self._terminated)
        return self._conn

    def _deliver(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        for handler in list(self._handlers.get(channel, [])):
            try:
                handler(payload)
            except Exception:
                log.exception("a listener of %r failed", channel)

    def _terminated(self, _conn: object) -> None:
        if self._closed or (self._reconnecting and not self._reconnecting.done()):
            return
        log.warning("the PostgreSQL notification connection dropped; reconnecting")
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                async with self._guard:
                    self._conn = None
                    conn = await self._connection()
                    for channel in self._handlers:
                        await conn.add_listener(channel, self._deliver)
                log.info("the PostgreSQL notification connection is back")
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                delay = RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)]
                attempt += 1
                await asyncio.sleep(delay)


class _PgListening:
    def __init__(self, owner: _Listener, channel: str, handler: Callable[[str], None]) -> None:
        self._owner, self._channel, self._handler = owner, channel, handler

    async def stop(self) -> None:
        await self._owner.remove(self._channel, self._handler)


async def _apply_migrations(pool: asyncpg.Pool, clock: Clock) -> None:
    # Under the writers' lock: two processes starting at once apply each migration once.
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
        for version, name, sql in db.migration_files("postgresql"):
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
                if await conn.fetchval("SELECT 1 FROM schema_version WHERE version = $1", version):
                    continue
                try:
                    await conn.execute(sql)  # no arguments: several statements may run
                except Exception:
                    log.exception("migration %s failed", name)
                    raise
                await conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                    version,
                    name,
                    clock(),
                )
            log.info("applied migration %s", name)
