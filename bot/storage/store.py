"""The repository: every SQL statement of the bot lives in this package, behind ``Store``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.storage.claims import ClaimQueries
from bot.storage.db import Backend, Clock
from bot.storage.jobs import JobQueries
from bot.storage.masks import MaskQueries
from bot.storage.points import PointQueries
from bot.storage.postgres_backend import PostgresBackend
from bot.storage.retention import RetentionQueries
from bot.storage.secrets import SecretQueries
from bot.storage.sessions import SessionQueries
from bot.storage.settings import SettingsQueries
from bot.storage.sqlite_backend import SqliteBackend

if TYPE_CHECKING:
    from bot.config import StorageConfig

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(where: str | Path) -> bool:
    return isinstance(where, str) and where.lower().startswith(_POSTGRES_SCHEMES)


class Store(
    SessionQueries,
    PointQueries,
    MaskQueries,
    JobQueries,
    SettingsQueries,
    RetentionQueries,
    SecretQueries,
    ClaimQueries,
):
    """Async access to the bot's database: a SQLite file (the default) or PostgreSQL.

    ``await Store.open(path)`` creates the SQLite file if needed, switches it to WAL, and applies
    any pending migration; ``await Store.open("postgresql://…")`` connects a pool and applies the
    PostgreSQL migrations. ``await store.close()`` waits for the current write to finish.
    """

    @classmethod
    async def open(cls, where: str | Path, *, clock: Clock | None = None) -> Store:
        """A ``postgresql://`` or ``postgres://`` URL opens PostgreSQL; anything else is the
        path of the SQLite file. A PostgreSQL database that cannot be used raises
        :class:`bot.config.StartupError` with one sentence (never the password)."""
        clock = clock or time.time
        backend: Backend
        if is_postgres_url(where):
            backend = await PostgresBackend.open(str(where), clock)
        else:
            backend = await SqliteBackend.open(where, clock)
        return cls(backend, clock)


async def open_store(storage: StorageConfig, *, clock: Clock | None = None) -> Store:
    """The store ``[storage]`` names: PostgreSQL when ``url`` (or DATABASE_URL) is set, else the
    SQLite file at ``path``."""
    if storage.url is not None:
        return await Store.open(storage.url.reveal(), clock=clock)
    return await Store.open(storage.path, clock=clock)
