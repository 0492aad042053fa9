"""`kling-bot run`, as an operator starts it, against the loopback Discord stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.cogs.delivery_support import start_bot_process, stop_bot_process
from tests.discord_twin import DiscordTwin
from tests.discord_twin.model import TwinGuild
from tests.processes import ChildProcess


def write_config(tmp_path: Path, twin: DiscordTwin) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[discord]\napi_base = "{twin.api_base}"\n'
        '[kling]\nprovider = "emulator"\n'
        '[storage]\npath = "data/bot.sqlite3"\nmedia_dir = "data/media"\n'
    )
    return path


@asynccontextmanager
async def kling_bot_process(config: Path, twin: DiscordTwin) -> AsyncIterator[ChildProcess]:
    proc = await start_bot_process(config, twin)
    try:
        yield proc
    finally:
        await stop_bot_process(proc)
        assert proc.returncode == 0, proc.output()[-3000:]


def command_registrations(twin: DiscordTwin) -> int:
    return sum(1 for r in twin.requests if r.method == "PUT" and r.path.endswith("/commands"))


async def test_kling_bot_run_logs_in_registers_and_answers(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    config = write_config(tmp_path, discord_twin)
    alice = discord_twin.member(twin_guild, "alice")

    async with kling_bot_process(config, discord_twin):
        await discord_twin.wait_until(lambda: command_registrations(discord_twin) == 1, 20)
        names = {c["name"] for c in discord_twin.global_commands}
        assert "kling" in names
        handle = await alice.slash("kling status")
        reply = await handle.response()
        assert "no editing session in this channel" in reply.content
        assert reply.ephemeral

    # A second start with unchanged commands does not register them again.
    async with kling_bot_process(config, discord_twin):
        handle = await alice.slash("kling status")
        assert "no editing session" in (await handle.response()).content
    assert command_registrations(discord_twin) == 1
