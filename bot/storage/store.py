"""The repository: every SQL statement of the bot lives in this package, behind ``Store``."""

from __future__ import annotations

import time
from pathlib import Path

from bot.storage.db import Clock, Database
from bot.storage.jobs import JobQueries
from bot.storage.masks import MaskQueries
from bot.storage.points import PointQueries
from bot.storage.retention import RetentionQueries
from bot.storage.secrets import SecretQueries
from bot.storage.sessions import SessionQueries
from bot.storage.settings import SettingsQueries


class Store(
    SessionQueries,
    PointQueries,
    MaskQueries,
    JobQueries,
    SettingsQueries,
    RetentionQueries,
    SecretQueries,
):
    """Async access to the bot's SQLite database (one connection per process).

    ``await Store.open(path)`` creates the file if needed, switches it to WAL, and applies any
    pending migration; ``await store.close()`` waits for the current statement to finish.
    """

    @classmethod
    async def open(cls, path: str | Path, *, clock: Clock | None = None) -> Store:
        conn = await Database._connect(path, clock)
        return cls(conn, clock or time.time)
