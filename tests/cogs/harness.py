"""End-to-end world for the editing cogs: the Discord stand-in, the Kling emulator, the real bot.

    async def test_x(kling_world: KlingWorld) -> None:
        async with kling_world.bot():
            handle = await kling_world.alice.slash("kling edit", video=kling_world.video())

The bot is the real `KlingBot` (in this process, on a real SQLite file or PostgreSQL database,
talking HTTP to the emulator and to the stand-in); `bot()` can be entered again to "restart" it on
the same database. Import the fixture from a test module: `from tests.cogs.harness import
kling_world`; SQLite unless the module also imports `both_backends` from tests/database.py, which
runs each of its tests on SQLite and again on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import cogs.core.runtime
from bot.config import Config, DiscordConfig, KlingConfig, Secret, StorageConfig
from bot.jobs import RunnerConfig
from bot.kling.emulator import KlingEmulator
from bot.media import write_mp4
from cogs.core.app import KlingBot, use_api_base
from cogs.core.cooldowns import Cooldowns
from tests.database import Database, is_postgres
from tests.discord_twin import DiscordTwin, TwinChannel, TwinGuild, TwinMessage, bot_running

WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 24, 2.5
GUILD_READY_TIMEOUT_S = 0.2
BACKGROUND = (40, 60, 110)
SQUARE_COLOUR = (50, 190, 70)  # green: the first mask colour (red) shows clearly on it
# The square covers cells E3..F4 of the 10x6 board grid; E3's centre (576, 300) is inside it.
SQUARE = (520, 250, 760, 490)  # x0, y0, x1, y1 in video pixels


def square_frames(
    width: int = WIDTH,
    height: int = HEIGHT,
    count: int = int(FPS * SECONDS),
    square: tuple[int, int, int, int] = SQUARE,
) -> Any:
    x0, y0, x1, y1 = (
        round(v * width / WIDTH) if i % 2 == 0 else round(v * height / HEIGHT)
        for i, v in enumerate(square)
    )
    base = np.empty((height, width, 3), dtype=np.uint8)
    base[:] = BACKGROUND
    base[y0:y1, x0:x1] = SQUARE_COLOUR
    for _ in range(count):
        yield base


def make_video(
    path: Path,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: float = FPS,
    seconds: float = SECONDS,
) -> Path:
    if not path.exists():
        write_mp4(square_frames(width, height, round(fps * seconds)), path, fps)
    return path


def make_reference_image(path: Path, colour: tuple[int, int, int], size: int = 400) -> Path:
    Image.new("RGB", (size, size), colour).save(path)
    return path


def decode_image(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def is_board(message: TwinMessage) -> bool:
    return any(f.filename.startswith("board.") for f in message.files) and bool(message.buttons)


def board_image(message: TwinMessage) -> np.ndarray:
    return decode_image(next(f for f in message.files if f.filename.startswith("board.")).data)


@dataclass
class KlingWorld:
    twin: DiscordTwin
    emulator: KlingEmulator
    guild: TwinGuild
    tmp: Path
    config: Config
    current: KlingBot | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cooldown_skew: float = 0.0  # seconds added to the bot's cooldown clock
    cooldown_frozen_at: float | None = None

    def cooldown_clock(self) -> float:
        frozen = self.cooldown_frozen_at
        return (time.monotonic() if frozen is None else frozen) + self.cooldown_skew

    def freeze_cooldowns(self) -> None:
        """Stop the cooldowns' clock, so only `pass_cooldowns` moves it (exact waits)."""
        self.cooldown_frozen_at = time.monotonic()

    def pass_cooldowns(self, seconds: float = 60.0) -> None:
        """Let `seconds` go by for the members' cooldowns (not for anything else)."""
        self.cooldown_skew += seconds

    @property
    def channel(self) -> TwinChannel:
        return self.guild.channel("general")

    @property
    def alice(self) -> Any:
        return self.twin.member(self.guild, "alice")

    @property
    def bob(self) -> Any:
        return self.twin.member(self.guild, "bob")

    def video(self, **kwargs: Any) -> Path:
        name = "clip_{width}x{height}_{fps}.mp4".format(
            width=kwargs.get("width", WIDTH),
            height=kwargs.get("height", HEIGHT),
            fps=kwargs.get("fps", FPS),
        )
        return make_video(self.tmp / name, **kwargs)

    @contextlib.asynccontextmanager
    async def bot(self) -> AsyncIterator[KlingBot]:
        """The real bot, logged in to the stand-in; leaving the block shuts it down."""
        bot = KlingBot(self.config, cooldowns=Cooldowns(clock=self.cooldown_clock))
        # discord.py waits this long after the last GUILD_CREATE before `ready` (2 s by
        # default); the stand-in sends its guilds at once, so a short wait loses nothing.
        bot._connection.guild_ready_timeout = GUILD_READY_TIMEOUT_S
        self.current = bot
        try:
            async with bot_running(bot, self.twin):
                yield bot
        finally:
            self.current = None
            use_api_base(None)

    async def bot_settings(self, **changes: Any) -> None:
        """Change this server's settings (SPEC §8) in the running bot's database."""
        assert self.current is not None, "start the bot first"
        await self.current.store.update_settings(self.guild.id, **changes)

    async def board(
        self,
        channel: TwinChannel | None = None,
        predicate: Callable[[TwinMessage], bool] | None = None,
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> TwinMessage:
        def check(message: TwinMessage) -> bool:
            return is_board(message) and (predicate is None or predicate(message))

        return await (channel or self.channel).wait_for_message(check, timeout)

    async def reply(
        self,
        handle: Any,
        clicked: TwinMessage | None = None,
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> TwinMessage:
        """What the bot said back to one interaction: its own response message or, after a
        deferred button click (whose "original" is the clicked message), its first followup."""

        def check() -> TwinMessage | None:
            followups = handle.followups
            if followups:
                return followups[0]
            message = self.twin.find_message(handle.record.original_message_id or 0)
            if message is None or message.loading or message.deleted:
                return None
            return None if clicked is not None and message.id == clicked.id else message

        return await self.twin.wait_until(check, timeout)

    async def open_board(
        self, actor: Any = None, video: Path | None = None, channel: TwinChannel | None = None
    ) -> TwinMessage:
        actor = actor or self.alice
        handle = await actor.slash("kling edit", video=video or self.video(), channel=channel)
        reply = await handle.response(timeout=30)
        assert "editing session is open" in reply.content, reply.content
        return await self.board(channel)


FAST_RUNNER = RunnerConfig(
    poll_first=0.3,
    poll_max=1.0,
    poll_growth=1.5,
    queue_retry_first=0.5,
    reconcile_first=0.5,
    delivery_retry_first=0.5,
    progress_interval=1.0,
)


@pytest.fixture
async def kling_world(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    monkeypatch: pytest.MonkeyPatch,
    database: Database,
) -> AsyncIterator[KlingWorld]:
    # Poll the emulator (which finishes at once) every fraction of a second, not every 5 s.
    monkeypatch.setattr(cogs.core.runtime, "runner_config", lambda _config: FAST_RUNNER)
    async with KlingEmulator(seconds_per_stage=0.0, work_dir=tmp_path / "emulator") as emulator:
        config = Config(
            discord=DiscordConfig(token=Secret(discord_twin.token), api_base=discord_twin.api_base),
            kling=KlingConfig(provider="emulator", base_url=emulator.base_url),
            storage=StorageConfig(
                path=tmp_path / "data" / "bot.sqlite3",
                url=Secret(str(database)) if is_postgres(database) else None,
                media_dir=tmp_path / "data" / "media",
            ),
        )
        world = KlingWorld(discord_twin, emulator, twin_guild, tmp_path, config)
        yield world
        # Let in-flight deliveries from a stopped bot settle before the twin goes away.
        await asyncio.sleep(0)
