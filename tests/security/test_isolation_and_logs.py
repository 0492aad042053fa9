"""One server's session is unreachable from another server; secrets never reach any log record."""

from __future__ import annotations

import logging

import pytest

from bot.config import KlingConfig, Secret
from tests.cogs.harness import KlingWorld, kling_world

__all__ = ["kling_world"]  # the fixture, imported for pytest

DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
API_KEY = "sk-live-4f9a1c2b7e8d3a6f5b0c9e8d7a6b5c4d"
WEBHOOK_SECRET = "whsec_c2VjcmV0LXdlYmhvb2sta2V5LWZvci1sb2ctdGVzdHMh"


async def test_another_server_cannot_reach_the_session(kling_world: KlingWorld) -> None:
    world = kling_world
    other_guild = world.twin.add_guild("Elsewhere", channels=("general",))
    carol = world.twin.member(other_guild, "carol")
    async with world.bot() as bot:
        board = await world.open_board()
        edits = world.twin.find_message(board.id).edit_count
        elsewhere = other_guild.channel("general")
        for command, options in (
            ("kling mark", {"points": "E3"}),
            ("kling status", {}),
            ("kling clear", {}),
            ("kling end", {}),
        ):
            reply = await (await carol.slash(command, channel=elsewhere, **options)).response()
            assert "no editing session" in reply.content.lower(), (command, reply.content)
        # The service itself keys sessions by server and channel, not by channel alone.
        assert await bot.editing.active_session(other_guild.id, world.channel.id) is None
        assert await bot.editing.active_session(world.guild.id, world.channel.id) is not None
        assert world.twin.find_message(board.id).edit_count == edits


async def test_configured_secrets_never_reach_a_log_record(
    kling_world: KlingWorld,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The whole story at DEBUG, every logger (discord.py's too), captured before any scrubbing."""
    world = kling_world
    world.config = type(world.config)(
        discord=world.config.discord,
        kling=KlingConfig(
            provider="kling",
            base_url=world.emulator.base_url,
            api_key=Secret(API_KEY),
            webhook_secret=Secret(WEBHOOK_SECRET),
        ),
        storage=world.config.storage,
    )
    caplog.set_level(logging.DEBUG)
    for name in ("discord", "discord.http", "discord.gateway", "aiohttp", "bot", "cogs"):
        caplog.set_level(logging.DEBUG, logger=name)
    async with world.bot():
        await world.open_board()
        await (await world.alice.slash("kling mark", points="E3")).response()
        await world.board(predicate=lambda m: "#1 by" in m.text)
        await (await world.alice.slash("kling status")).response()
    text = "\n".join(
        record.getMessage() + (caplog.text if record.exc_info else "") for record in caplog.records
    )
    assert len(caplog.records) > 50 and "DEBUG" in {r.levelname for r in caplog.records}
    for secret in (world.twin.token, API_KEY, WEBHOOK_SECRET):
        assert secret not in text
        assert secret not in caplog.text
