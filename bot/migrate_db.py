"""`kling-bot migrate-db`: move a bot's SQLite data into PostgreSQL (SPEC §11).

The bot must be stopped: the copy is one snapshot of the file, and whatever the bot wrote after
it would stay behind. The file must be at the newest schema version this kling-bot knows (the
bot migrates it at its start; migrate-db never writes to it). The target gets the migrations
first and must then be empty: nothing is ever merged. At the end the rows of every table are
counted on both sides; only equal counts everywhere are a success.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.config import StartupError
from bot.health import check_heartbeat, heartbeat_path
from bot.storage.db import migration_files
from bot.storage.postgres_backend import describe_url
from bot.storage.probe import (
    OLDEST_MAJOR,
    PostgresUnavailable,
    connect,
    probe_postgres,
    without_password,
)
from bot.storage.store import Store, is_postgres_url
from bot.storage.transfer import (
    TableCount,
    TransferError,
    copy_into,
    count_rows,
    count_source,
    open_source,
    plan_tables,
    source_schema_version,
    source_tables,
    target_tables,
)


class MigrateError(Exception):
    """Nothing was copied; the message is one sentence saying why and what to do."""


@dataclass(frozen=True)
class MigrateReport:
    source: Path
    target: str  # describe_url(): never the password
    schema_version: int
    counts: list[TableCount]
    seconds: float

    @property
    def matched(self) -> bool:
        return all(count.equal for count in self.counts)

    def lines(self) -> list[str]:
        lines = [
            f"copied {self.source} (schema version {self.schema_version}) into {self.target}"
            f" in {self.seconds:.2f} s",
            "rows per table (SQLite = PostgreSQL):",
            *(f"  {count.line()}" for count in self.counts),
        ]
        if self.matched:
            lines.append(
                f"all {len(self.counts)} tables match: set DATABASE_URL (or [storage] url) to "
                "this database's URL on every process, then start the bot"
            )
        else:
            differ = sum(1 for count in self.counts if not count.equal)
            lines.append(
                f"{differ} of {len(self.counts)} tables differ: do not start the bot on this "
                "database; empty it and run migrate-db again with the bot stopped"
            )
        return lines


def newest_schema_version() -> int:
    return migration_files("sqlite")[-1][0]


async def migrate_db(
    source: Path, url: str, *, timer: Callable[[], float] = time.monotonic
) -> MigrateReport:
    """Copy ``source`` into the PostgreSQL database at ``url``; MigrateError when it cannot."""
    if not is_postgres_url(url):
        raise MigrateError("--to must be a postgresql:// URL (postgresql://user@host:port/db)")
    started = timer()
    conn = _open_checked_source(source)
    try:
        version = _check_source(conn, source)
        target = describe_url(url)
        await _prepare_target(url)
        try:
            pg = await connect(url)
        except PostgresUnavailable as exc:
            raise MigrateError(str(exc)) from None
        try:
            conn.execute("BEGIN")  # one read snapshot for the copy and the counts
            try:
                plans = plan_tables(source_tables(conn), await target_tables(pg))
                copied = await copy_into(conn, pg, plans)  # in the order of the copy
                before = count_source(conn, list(copied))
            finally:
                conn.execute("ROLLBACK")  # a read transaction: nothing to keep
            after = await count_rows(pg, list(before))
        except TransferError as exc:
            raise MigrateError(str(exc)) from None
        except sqlite3.Error as exc:
            raise MigrateError(f"{source} could not be read ({exc}): nothing was copied") from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            why = without_password(_first_line(exc), url)
            raise MigrateError(f"{target} refused the copy ({why}): nothing was copied") from None
        finally:
            await pg.close()
    finally:
        conn.close()
    counts = [TableCount(name, before[name], after[name]) for name in before]
    return MigrateReport(source, target, version, counts, timer() - started)


def _open_checked_source(source: Path) -> sqlite3.Connection:
    if source.is_dir():
        raise MigrateError(f"{source} is a folder: --from must name the bot's SQLite file")
    if not source.is_file():
        raise MigrateError(
            f"no SQLite database at {source}: --from must name the bot's database file "
            "([storage] path, by default data/kling-bot.sqlite3)"
        )
    try:
        return open_source(source)
    except TransferError as exc:
        raise MigrateError(str(exc)) from None
    except sqlite3.Error as exc:
        raise MigrateError(f"{source} cannot be opened ({exc})") from None


def _check_source(conn: sqlite3.Connection, source: Path) -> int:
    """The source's schema version, when it is the newest this kling-bot knows and the bot
    that uses it is not running."""
    newest = newest_schema_version()
    try:
        version = source_schema_version(conn)
    except sqlite3.Error as exc:
        raise MigrateError(f"{source} cannot be read ({exc})") from None
    if version is None:
        raise MigrateError(f"{source} is not a kling-bot database (it has no schema_version table)")
    if version < newest:
        raise MigrateError(
            f"{source} is at schema version {version}, this kling-bot at {newest}: start the "
            "bot once on this version first (it updates the file), stop it, then run "
            "migrate-db again"
        )
    if version > newest:
        raise MigrateError(
            f"{source} was made by a newer kling-bot (schema version {version}, this one knows "
            f"{newest}): run the migrate-db of that version"
        )
    health = check_heartbeat(heartbeat_path(source))
    if health.healthy:
        raise MigrateError(
            f"the bot using {source} is running ({health.reason}): stop it first, so that "
            "nothing it writes is left behind"
        )
    return version


async def _prepare_target(url: str) -> None:
    """The target reachable, recent enough, not newer than this kling-bot, then migrated."""
    try:
        info = await probe_postgres(url)
    except PostgresUnavailable as exc:
        raise MigrateError(str(exc)) from None
    where = describe_url(url)
    if info.major < OLDEST_MAJOR:
        raise MigrateError(
            f"{where} runs PostgreSQL {info.server_version}; the bot needs {OLDEST_MAJOR} or newer"
        )
    if info.schema_version > newest_schema_version():
        raise MigrateError(
            f"{where} has schema version {info.schema_version}, newer than this kling-bot's "
            f"{newest_schema_version()}: it was used by a newer version"
        )
    try:
        store = await Store.open(url)  # applies the migrations, exactly as the bot's start does
    except StartupError as exc:
        raise MigrateError(exc.problems[0]) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        why = without_password(_first_line(exc), url)
        raise MigrateError(f"{where} could not be given the bot's tables ({why})") from None
    await store.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
