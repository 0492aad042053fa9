"""`kling-bot check` with `[storage] url`: a database line (server and schema version, or the one
sentence why it cannot be used, never the password) in place of the SQLite storage folder's."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg
import pytest

from bot.storage import Store
from tests.bot.checkup_support import (  # the same operator set-up and stand-ins as every check
    Setup,
    clean_env,
    emulator,
    free_port,
    line,
    setup,
)
from tests.discord_twin.model import TwinGuild

__all__ = ["clean_env", "emulator", "setup"]

# The test cluster trusts loopback, so any password is accepted: and must never be shown.
QUOTED_PASSWORD = "pg%2Fp%40ss-7"
PASSWORD = "pg/p@ss-7"


def with_password(url: str, *, port: int | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{QUOTED_PASSWORD}@{parts.hostname}:{port or parts.port}"
    return parts._replace(netloc=netloc).geturl()


def described(url: str, port: int | None = None) -> str:
    parts = urlsplit(url)
    return f'the PostgreSQL database "{parts.path.lstrip("/")}" at 127.0.0.1:{port or parts.port}'


async def test_a_reachable_database_reports_server_and_schema(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
    postgres_url: str,
) -> None:
    setup.storage["url"] = with_password(postgres_url)

    status, lines = await setup.run(capsys)

    assert status == 0, lines
    assert lines[-1] == "all 9 checks passed"
    found = line(lines, "database")
    assert found.startswith(f"OK   database: {described(postgres_url)} answers (PostgreSQL ")
    assert found.endswith("; no bot tables yet: the bot creates them at its first start")
    # The folder of [storage] path still holds the heartbeat: `run` needs it, so `check` looks.
    assert line(lines, "storage folder").startswith("OK   storage folder: ")
    assert line(lines, "media folder").startswith("OK   media folder: ")
    assert PASSWORD not in "\n".join(lines) and QUOTED_PASSWORD not in "\n".join(lines)

    await (await Store.open(postgres_url)).close()  # the bot's first start
    status, lines = await setup.run(capsys)
    assert status == 0
    assert line(lines, "database").endswith("; schema version 6, up to date")


async def test_an_unreachable_database_fails_in_one_sentence_without_the_password(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
    postgres_url: str,
) -> None:
    port = free_port()
    setup.storage["url"] = with_password(postgres_url, port=port)

    status, lines = await setup.run(capsys)

    assert status == 1
    assert lines[-1] == "1 of 9 checks did not pass"
    assert line(lines, "database") == (
        f"FAIL database: {described(postgres_url, port)} cannot be used: Connection refused: "
        "check [storage] url or DATABASE_URL, and that the server runs and lets this machine in"
    )
    assert PASSWORD not in "\n".join(lines) and QUOTED_PASSWORD not in "\n".join(lines)


def test_a_schema_from_a_newer_kling_bot_fails(postgres_url: str) -> None:
    from bot.checkup_database import check_database

    async def scenario() -> tuple[str, str]:
        await (await Store.open(postgres_url)).close()
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'x', 0)"
            )
            version = conn.get_server_version()
        finally:
            await conn.close()
        return f"{version.major}.{version.minor}", (await check_database(postgres_url)).line()

    server, found = asyncio.run(scenario())
    assert found == (
        f"FAIL database: {described(postgres_url)} answers (PostgreSQL {server}), but its "
        "schema version 99 is from a newer kling-bot (this one knows 6): upgrade this kling-bot"
    )
