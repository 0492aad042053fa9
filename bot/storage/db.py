"""The database of the process, behind one small interface the query mixins build on.

Two backends implement it: :mod:`bot.storage.sqlite_backend` (one aiosqlite connection, the
default) and :mod:`bot.storage.postgres_backend` (an asyncpg pool, SPEC §11). The SQL of the mixins
is written once, SQLite-flavoured with ``?`` placeholders; the PostgreSQL backend translates what it
must (see :func:`bot.storage.postgres_backend.postgres_sql`).

Writes have the same meaning on both: a write statement or a write transaction runs alone among all
writers of the database (SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL a transaction-scoped advisory
lock), so a check followed by a write in one transaction (the quotas of ``create_job``) holds even
across processes. Writes are shielded from cancellation: when the caller is cancelled (graceful
shutdown), the write still commits or rolls back before the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import aiosqlite

T = TypeVar("T")
Clock = Callable[[], float]
Dialect = str  # "sqlite" or "postgresql"
DIALECTS = ("sqlite", "postgresql")

# NNNN_name.sql (portable) or NNNN_name.<dialect>.sql (one per dialect, where they must differ).
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)(?:\.(sqlite|postgresql))?\.sql$")


class Row(Protocol):
    """A result row: ``row["column"]`` or ``row[0]`` (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Any: ...


class Tx(Protocol):
    """What a write transaction's body may do (it already runs alone among writers)."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...


Body = Callable[[Tx], Awaitable[T]]


class Listening(Protocol):
    """A subscription made by ``Store.listen``; ``stop()`` ends it."""

    async def stop(self) -> None: ...


class Backend(Protocol):
    dialect: Dialect
    # Errors a write raises when it breaks a UNIQUE (or other) constraint.
    integrity_errors: tuple[type[BaseException], ...]

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]: ...

    async def write_statement(self, sql: str, params: Sequence[Any]) -> list[Row]: ...

    async def transaction(self, body: Body[T]) -> T: ...

    async def read(self, body: Body[T]) -> T: ...

    async def notify(self, channel: str, payload: str) -> None: ...

    async def listen(self, channel: str, handler: Callable[[str], None]) -> Listening: ...

    async def close(self) -> None: ...


def migration_files(dialect: Dialect = "sqlite") -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every bundled migration for ``dialect``, in order.

    A number has either one portable file or one file per dialect, never both.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    by_version: dict[int, dict[str | None, tuple[str, str]]] = {}
    for entry in resources.files("bot.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if not match:
            continue
        version, flavour = int(match.group(1)), match.group(3)
        files = by_version.setdefault(version, {})
        if flavour in files:
            raise RuntimeError(f"duplicate migration numbers: {version:04d}")
        files[flavour] = (entry.name, entry.read_text(encoding="utf-8"))
    found: list[tuple[int, str, str]] = []
    for version, files in sorted(by_version.items()):
        if None in files and len(files) > 1:
            raise RuntimeError(f"migration {version:04d} is both portable and per dialect")
        if None in files:
            found.append((version, *files[None]))
        elif set(files) == set(DIALECTS):
            found.append((version, *files[dialect]))
        else:
            raise RuntimeError(f"migration {version:04d} needs a file for each dialect")
    return found


class Database:
    """Owns the backend; the query mixins of :class:`bot.storage.Store` build on it."""

    def __init__(self, backend: Backend, clock: Clock) -> None:
        self._backend = backend
        self._clock = clock

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect, "sqlite" or "postgresql" (for diagnostics)."""
        return self._backend.dialect

    @property
    def _conn(self) -> aiosqlite.Connection:
        """The SQLite connection (tests of SQLite itself use it); other backends have none."""
        connection: aiosqlite.Connection | None = getattr(self._backend, "connection", None)
        if connection is None:
            raise AttributeError(f"a {self.dialect} store has no SQLite connection")
        return connection

    def now(self) -> float:
        return self._clock()

    async def close(self) -> None:
        await self._backend.close()

    async def schema_version(self) -> int:
        row = await self._fetchone("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row and row["v"] is not None else 0

    # -- coordination between processes (SPEC §11) ------------------------------------------

    async def notify(self, channel: str, payload: str) -> None:
        """Wake the listeners of ``channel`` (in every process sharing a PostgreSQL database;
        with SQLite, this store's own listeners)."""
        await self._backend.notify(channel, payload)

    async def listen(self, channel: str, handler: Callable[[str], None]) -> Listening:
        """Call ``handler(payload)`` on the event loop for each notification on ``channel``."""
        return await self._backend.listen(channel, handler)

    # -- helpers used by the query mixins -------------------------------------------------

    async def _fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await self._backend.fetchall(sql, tuple(params))

    async def _write_statement(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """One statement (atomic on its own, triggers included), e.g. ``UPDATE … RETURNING``."""
        return await _finish_even_if_cancelled(self._backend.write_statement(sql, tuple(params)))

    async def _read(self, body: Body[T]) -> T:
        """Run ``body``'s reads together, on one view of the data (``body`` must not write)."""
        return await self._backend.read(body)

    async def _write(self, body: Body[T]) -> T:
        """Run ``body`` in one write transaction; commit, or roll back on any error."""
        return await _finish_even_if_cancelled(self._backend.transaction(body))


async def fetch_one(tx: Tx, sql: str, params: Sequence[Any]) -> Row | None:
    """One row inside a transaction body (which already runs alone, unlike ``_fetchone``)."""
    return await tx.fetchone(sql, params)


async def _finish_even_if_cancelled(write: Awaitable[T]) -> T:
    """Await a write; if the caller is cancelled meanwhile, finish the write, then re-raise."""
    task = asyncio.ensure_future(write)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


class LocalListeners:
    """Notifications within one process: what ``listen``/``notify`` mean without a server."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[str], None]]] = {}

    def add(self, channel: str, handler: Callable[[str], None]) -> Listening:
        self._handlers.setdefault(channel, []).append(handler)
        return _LocalListening(self, channel, handler)

    def remove(self, channel: str, handler: Callable[[str], None]) -> None:
        handlers = self._handlers.get(channel, [])
        if handler in handlers:
            handlers.remove(handler)

    def dispatch(self, channel: str, payload: str) -> None:
        # Like a server's notification, the handler runs later on the loop, never inside
        # the notifier's own call.
        loop = asyncio.get_running_loop()
        for handler in list(self._handlers.get(channel, [])):
            loop.call_soon(handler, payload)


class _LocalListening:
    def __init__(self, owner: LocalListeners, channel: str, handler: Callable[[str], None]) -> None:
        self._owner, self._channel, self._handler = owner, channel, handler

    async def stop(self) -> None:
        self._owner.remove(self._channel, self._handler)
