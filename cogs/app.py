"""The Discord bot: a thin `commands.Bot` that owns shared resources and loads the cogs."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import aiohttp
import discord
import yarl
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.config import Config
from cogs.tree import KlingTree

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.status",)


def use_api_base(api_base: str | None) -> None:
    """Point discord.py's REST (and so its webhooks) at `api_base`; None restores Discord's."""
    Route.BASE = api_base or "https://discord.com/api/v10"


class KlingBot(commands.Bot):
    def __init__(self, config: Config) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            tree_cls=KlingTree,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            help_command=None,
        )
        self.config = config
        self.http_session: aiohttp.ClientSession | None = None
        use_api_base(config.discord.api_base)

    async def setup_hook(self) -> None:
        if self.config.discord.api_base:
            # A plain Client dials Discord's default gateway; behind another REST base the
            # gateway must come from that server, also for reconnects after a lost session.
            _shards, url, _limits = await self.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        self.http_session = aiohttp.ClientSession()
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self.sync_if_changed()

    async def close(self) -> None:
        await super().close()
        if self.http_session is not None:
            await self.http_session.close()

    def command_schema(self) -> list[dict]:
        return sorted(
            (cmd.to_dict(self.tree) for cmd in self.tree.get_commands()),
            key=lambda c: (c.get("type", 1), c["name"]),
        )

    @property
    def _sync_marker(self) -> Path:
        return self.config.storage.path.parent / "commands.sha256"

    async def sync_commands(self) -> int:
        """Register the commands globally or in the configured servers; returns how many."""
        guild_ids = self.config.discord.sync_guild_ids
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        digest = self._schema_digest()
        self._sync_marker.parent.mkdir(parents=True, exist_ok=True)
        self._sync_marker.write_text(digest)
        return len(synced)

    def _schema_digest(self) -> str:
        payload = {"guilds": list(self.config.discord.sync_guild_ids),
                   "commands": self.command_schema()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def sync_if_changed(self) -> None:
        marker = self._sync_marker
        if marker.exists() and marker.read_text().strip() == self._schema_digest():
            log.info("slash commands unchanged since the last registration")
            return
        count = await self.sync_commands()
        log.info("registered %d slash commands", count)

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))


async def run_bot(config: Config) -> int:
    assert config.discord.token is not None
    async with KlingBot(config) as bot:
        await bot.start(config.discord.token.reveal())
    return 0


async def sync_commands(config: Config) -> int:
    assert config.discord.token is not None
    async with KlingBot(config) as bot:
        await bot.login(config.discord.token.reveal())
        for name in EXTENSIONS:
            if name not in bot.extensions:
                await bot.load_extension(name)
        count = await bot.sync_commands()
    print(f"registered {count} slash commands")
    return 0
