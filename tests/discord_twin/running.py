"""Run a discord.py bot against the stand-in for the duration of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import yarl
from discord.gateway import DiscordWebSocket

from .connect import set_api_base
from .twin import DiscordTwin


@contextlib.asynccontextmanager
async def pointed_at(twin: DiscordTwin) -> AsyncIterator[None]:
    """Set discord.py's REST base to the twin, restoring the previous base and gateway after.

    discord.py's default gateway is swapped for a loopback trap for the duration, so a bot that
    would dial wss://gateway.discord.gg fails the test loudly instead of reaching the internet.
    """
    old_base, old_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    set_api_base(twin.api_base)
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(twin.gateway_trap_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def bot_running(
    bot: discord.Client,
    twin: DiscordTwin,
    *,
    token: str | None = None,
    ready_timeout: float = 20.0,
) -> AsyncIterator[discord.Client]:
    """Start `bot` (with the twin's token unless given), wait until ready, close it afterwards."""
    async with pointed_at(twin):
        task = asyncio.create_task(bot.start(token or twin.token))
        try:
            ready = asyncio.create_task(bot.wait_until_ready())
            trapped = asyncio.create_task(
                twin.wait_until(lambda: twin.gateway.trapped, ready_timeout)
            )
            done, _ = await asyncio.wait(
                {task, ready, trapped}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            trapped.cancel()
            if trapped in done and ready not in done:
                ready.cancel()
                raise AssertionError(
                    "the bot dialed discord.py's default gateway; it must use "
                    "the url of GET /gateway/bot (see tests/discord_twin/connect.py)"
                )
            if task in done:
                ready.cancel()
                task.result()
                raise RuntimeError("the bot stopped before it was ready")
            if ready not in done:
                ready.cancel()
                raise TimeoutError(f"the bot was not ready within {ready_timeout} s")
            yield bot
        except BaseException:
            await bot.close()
            # The bot's own failure (e.g. while reconnecting) must not mask the reason we stop.
            await asyncio.wait({task}, timeout=10)
            if task.done() and not task.cancelled():
                task.exception()  # mark retrieved; the exception in flight is the one to report
            raise
        await bot.close()
        await asyncio.wait_for(task, 10)
