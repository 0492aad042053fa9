"""`kling-bot check` with the database on PostgreSQL: connect, say which server and which schema
version, and never write (the bot's own start applies the migrations)."""

from __future__ import annotations

from bot.check_results import CheckResult, Status
from bot.storage.db import migration_files
from bot.storage.postgres_backend import describe_url
from bot.storage.probe import OLDEST_MAJOR, PostgresUnavailable, probe_postgres

DATABASE = "database"
_FIX = "check [storage] url or DATABASE_URL, and that the server runs and lets this machine in"


async def check_database(url: str) -> CheckResult:
    try:
        info = await probe_postgres(url)
    except PostgresUnavailable as exc:
        return CheckResult(DATABASE, Status.FAIL, f"{exc}: {_FIX}")
    where = f"{describe_url(url)} answers (PostgreSQL {info.server_version})"
    if info.major < OLDEST_MAJOR:
        return CheckResult(
            DATABASE,
            Status.FAIL,
            f"{where}, but the bot needs PostgreSQL {OLDEST_MAJOR} or newer: upgrade the server",
        )
    newest = migration_files("postgresql")[-1][0]
    version = info.schema_version
    if version > newest:
        return CheckResult(
            DATABASE,
            Status.FAIL,
            f"{where}, but its schema version {version} is from a newer kling-bot (this one "
            f"knows {newest}): upgrade this kling-bot",
        )
    if version == newest:
        state = f"schema version {version}, up to date"
    elif version == 0:
        state = "no bot tables yet: the bot creates them at its first start"
    else:
        state = f"schema version {version}: the bot applies the newer migrations at its next start"
    return CheckResult(DATABASE, Status.OK, f"{where}; {state}")
