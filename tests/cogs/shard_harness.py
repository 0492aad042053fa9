"""Several bot processes against one Discord stand-in, with a server on each of two shards.

    async def test_x(sharded: ShardedWorld) -> None:
        async with sharded.bot("zero", ShardSet(2, (0,))) as zero:
            ...  # zero serves sharded.zero (shard 0 of 2), not sharded.one

`bot(name, shards)` runs a real KlingBot in this process with its own data folder;
`run_config(name, settings)` writes a config file for a `kling-bot run` process. Import the fixture
from a test module: `from tests.cogs.shard_harness import sharded`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import cogs.core.runtime
from bot.config import Config, DiscordConfig, KlingConfig, Secret, StorageConfig
from bot.kling.emulator import KlingEmulator
from bot.shards import ShardSet
from cogs.core.app import KlingBot, use_api_base
from tests.cogs.delivery_support import write_run_config
from tests.cogs.harness import FAST_RUNNER, GUILD_READY_TIMEOUT_S, make_video
from tests.discord_twin import DiscordTwin, TwinGuild, bot_running


@dataclass
class ShardedWorld:
    twin: DiscordTwin
    emulator: KlingEmulator
    tmp: Path
    zero: TwinGuild  # on shard 0 of 2
    one: TwinGuild  # on shard 1 of 2

    def config(self, name: str, shards: ShardSet) -> Config:
        """One process's settings: its own data folder, the shards it connects."""
        return Config(
            discord=DiscordConfig(
                token=Secret(self.twin.token), api_base=self.twin.api_base, shards=shards
            ),
            kling=KlingConfig(provider="emulator", base_url=self.emulator.base_url),
            storage=StorageConfig(
                path=self.tmp / name / "bot.sqlite3", media_dir=self.tmp / name / "media"
            ),
        )

    @asynccontextmanager
    async def bot(self, name: str, shards: ShardSet) -> AsyncIterator[KlingBot]:
        bot = KlingBot(self.config(name, shards))
        bot._connection.guild_ready_timeout = GUILD_READY_TIMEOUT_S
        try:
            async with bot_running(bot, self.twin):
                await asyncio.wait_for(bot.runner_started.wait(), 10)
                yield bot
        finally:
            use_api_base(None)

    def video(self) -> Path:
        return make_video(self.tmp / "clip.mp4")

    def interactions_heard(self) -> dict[int, list[int]]:
        """For each gateway session (by shard id): the guilds whose interactions it was sent."""
        return {
            c.shard_id: [g for e, g in c.events if e == "INTERACTION_CREATE" and g is not None]
            for c in self.twin.gateway.sessions()
        }

    def run_config(self, name: str, shard_settings: str) -> Path:
        """A `kling-bot run` config file: its own data folder, `shard_settings` under [discord]."""
        folder = self.tmp / name
        return write_run_config(
            folder, self.twin, self.emulator.base_url, discord=shard_settings, data_dir=folder
        )


@pytest.fixture
async def sharded(
    tmp_path: Path, discord_twin: DiscordTwin, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ShardedWorld]:
    """The stand-in recommending 2 shards, a server on each, and a Kling emulator."""
    monkeypatch.setattr(cogs.core.runtime, "runner_config", lambda _config: FAST_RUNNER)
    discord_twin.recommended_shards = 2
    zero = discord_twin.add_guild("Zero", shard=(0, 2))
    one = discord_twin.add_guild("One", shard=(1, 2))
    async with KlingEmulator(seconds_per_stage=0.0, work_dir=tmp_path / "emulator") as emulator:
        yield ShardedWorld(discord_twin, emulator, tmp_path, zero, one)
