"""A look at a PostgreSQL database without changing it: can it be reached, which server, which
schema version (``kling-bot check``, and ``kling-bot migrate-db`` before it copies anything).

Every sentence here names the database by host, port and name (:func:`describe_url`), never by
its URL, and any text from the server or the driver has the URL's password masked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import asyncpg

from bot.storage.postgres_backend import CONNECT_TIMEOUT_S, describe_url

# The oldest server the schema and the README promise (identity columns, EXECUTE FUNCTION, ...).
OLDEST_MAJOR = 13


class PostgresUnavailable(Exception):
    """The database cannot be used; the message is one sentence without the password."""


@dataclass(frozen=True)
class PostgresInfo:
    server_version: str  # "16.4"
    major: int
    schema_version: int  # 0: no bot tables yet


def url_secrets(url: str) -> list[str]:
    """The URL's password as written and decoded (for masking; empty without one)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return sorted({password or "", unquote(password or "")} - {""}, key=len, reverse=True)


def without_password(text: str, url: str) -> str:
    """``text`` with the URL's password masked."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)  # "Connection refused": the address is said already
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def unavailable(url: str, exc: BaseException) -> PostgresUnavailable:
    """The one sentence for a database that could not be reached or used."""
    reason = without_password(_reason(exc), url)
    return PostgresUnavailable(f"{describe_url(url)} cannot be used: {reason}")


async def connect(url: str) -> asyncpg.Connection:
    """One connection, or :class:`PostgresUnavailable` (refused, timed out, wrong password, no
    such database, a URL asyncpg cannot read)."""
    try:
        conn: asyncpg.Connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
    except (
        OSError,
        TimeoutError,
        ValueError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ) as exc:
        raise unavailable(url, exc) from None
    return conn


async def read_schema_version(conn: asyncpg.Connection) -> int:
    """The newest migration applied to the database (0 when the bot never ran on it)."""
    if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
        return 0
    version = await conn.fetchval("SELECT MAX(version) FROM schema_version")
    return int(version) if version is not None else 0


async def probe_postgres(url: str) -> PostgresInfo:
    """Connect, read the server and schema versions, disconnect; never writes."""
    conn = await connect(url)
    try:
        server = conn.get_server_version()
        schema = await read_schema_version(conn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise unavailable(url, exc) from None
    finally:
        await conn.close()
    shown = ".".join(str(part) for part in server[: 2 if server.major >= 10 else 3])
    return PostgresInfo(server_version=shown, major=server.major, schema_version=schema)
