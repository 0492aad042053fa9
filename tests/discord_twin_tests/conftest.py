from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.discord_twin import DiscordTwin, TwinGuild, bot_running
from tests.discord_twin.fixtures import discord_twin, twin_guild

from .minibot import MiniBot

__all__ = ["discord_twin", "twin_guild"]


@pytest.fixture
async def minibot(discord_twin: DiscordTwin, twin_guild: TwinGuild) -> AsyncIterator[MiniBot]:
    bot = MiniBot(twin_guild.id)
    async with bot_running(bot, discord_twin):
        yield bot
