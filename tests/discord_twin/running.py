"""Run a discord.py bot against the stand-in for the duration of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
from discord.gateway import DiscordWebSocket

from .connect import set_api_base
from .twin import DiscordTwin


@contextlib.asynccontextmanager
async def pointed_at(twin: DiscordTwin) -> AsyncIterator[None]:
    """Set discord.py's REST base to the twin, restoring the previous base and gateway after."""
    old_base, old_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    set_api_base(twin.api_base)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def bot_running(
    bot: discord.Client, twin: DiscordTwin, *, ready_timeout: float = 20.0
) -> AsyncIterator[discord.Client]:
    """Start `bot` with the twin's token, wait until it is ready, and close it afterwards."""
    async with pointed_at(twin):
        task = asyncio.create_task(bot.start(twin.token))
        try:
            ready = asyncio.create_task(bot.wait_until_ready())
            done, _ = await asyncio.wait({task, ready}, timeout=ready_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                ready.cancel()
                task.result()
                raise RuntimeError("the bot stopped before it was ready")
            if ready not in done:
                ready.cancel()
                raise TimeoutError(f"the bot was not ready within {ready_timeout} s")
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
