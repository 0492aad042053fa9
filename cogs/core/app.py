"""The Discord bot: a thin `AutoShardedBot` that owns shared resources and loads the cogs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route
from discord.voice_client import VoiceClient

from bot import i18n
from bot.config import Config, StartupError
from bot.cooldowns import Cooldowns
from bot.editing import EditingService
from bot.health import HEARTBEAT_SECONDS, heartbeat_path, write_heartbeat
from bot.jobs import JobRunner
from bot.kling import KlingClient
from bot.retention import sweep_forever
from bot.storage import Session, Store
from cogs.core.languages import server_locale
from cogs.core.login import SHARD_REFUSALS, discord_token, log_in
from cogs.core.runtime import Services, close_services, open_services
from cogs.core.stale_clicks import FinishedCards, answer_unheard, note_unheard
from cogs.core.translator import KlingTranslator
from cogs.core.tree import KlingTree
from cogs.editing.board_messages import BoardMessages
from cogs.editing.web_side import DiscordPickerSide
from cogs.jobs.delivery import DiscordDeliverer
from cogs.jobs.job_cards import JobCards

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.animate.cog", "cogs.editing.cog", "cogs.jobs.cog", "cogs.admin.cog")


def use_api_base(api_base: str | None) -> None:
    """Point discord.py's REST (and so its webhooks) at `api_base`; None restores Discord's."""
    Route.BASE = api_base or "https://discord.com/api/v10"


class KlingBot(commands.AutoShardedBot):
    """Owns the shared resources; cogs reach them as attributes.

    It connects the shards of `config.discord.shards` (SPEC §11): `[discord] shard_count` and
    `shard_ids`, or, unset, as many shards as Discord recommends, all in this process.

    From the start: `cooldowns` (the members' buckets, also used by the web picker),
    `finished_cards` (what became of answered confirmation cards), `deliverer` and `job_cards`
    (what the runner calls back into Discord with). After `setup_hook`:
    `http_session`, `store` (SQLite), `kling` (KlingClient), `runner` (JobRunner, started once
    the gateway is ready), `editing` (EditingService, with the per-session locks). All of it
    belongs to this bot object: cogs keep no state of their own, so an extension reloads without
    losing any, and two bots in one process share nothing.
    """

    store: Store
    kling: KlingClient
    runner: JobRunner
    editing: EditingService

    def __init__(self, config: Config, *, cooldowns: Cooldowns | None = None) -> None:
        # The bot never joins voice: discord.py's warnings about missing voice libraries
        # (PyNaCl, davey), logged by every Client it builds, would only mislead operators.
        VoiceClient.warn_nacl = VoiceClient.warn_dave = False
        shards = config.discord.shards
        super().__init__(
            shard_count=shards.count,
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            tree_cls=KlingTree,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            help_command=None,
        )
        # None: every shard of shard_count (discord.py's typed options take no None here).
        self.shard_ids = None if shards.ids is None else list(shards.ids)
        self.config = config
        # Tests pass ones with their own clock.
        self.cooldowns = Cooldowns() if cooldowns is None else cooldowns
        self.finished_cards = FinishedCards()
        self.board_messages = BoardMessages()
        self.http_session: aiohttp.ClientSession | None = None
        self.services: Services | None = None
        self.deliverer = DiscordDeliverer(self, retention_days=config.storage.retention_days)
        self.job_cards = JobCards(
            self,
            store=lambda: self.services.store if self.services else None,
            runner=lambda: self.services.runner if self.services else None,
        )
        self._runner_start: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._retention: asyncio.Task[None] | None = None
        self.connected = False
        self._shards_down: set[int] = set()
        self.runner_started = asyncio.Event()
        use_api_base(config.discord.api_base)

    async def setup_hook(self) -> None:
        if self.config.discord.api_base:
            # Behind another REST base the gateway must come from that server. discord.py asks
            # /gateway/bot only when no shard_count is given, and even then it falls back on
            # DEFAULT_GATEWAY to identify again after a lost session: set it in every case.
            _shards, url, _limits = await self.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        # A malformed catalogue stops the start here rather than on some member's first click.
        counts = i18n.load_all()
        log.info("message catalogues: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
        await self.tree.set_translator(KlingTranslator())
        await self.open_services()
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self.sync_if_changed()
        self._runner_start = asyncio.create_task(self._start_runner_when_ready())
        self._heartbeat = asyncio.create_task(self._beat(), name="heartbeat")
        self._retention = asyncio.create_task(
            sweep_forever(
                self.store,
                self.config.storage.media_dir,
                retention_days=self.config.storage.retention_days,
            ),
            name="media retention",
        )

    @property
    def heartbeat_file(self) -> Path:
        return heartbeat_path(self.config.storage.path)

    def write_heartbeat(self) -> None:
        try:
            write_heartbeat(
                self.heartbeat_file,
                connected=self.connected and not self.is_closed(),
                servers=len(self.guilds),
            )
        except OSError as error:
            log.warning("could not write the heartbeat file: %s", error)

    async def _beat(self) -> None:
        while True:
            self.write_heartbeat()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def _set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            log.info("gateway %s", "connected" if connected else "disconnected")
        self.connected = connected
        self.write_heartbeat()

    def _shard_up(self, shard_id: int, up: bool) -> None:
        # Connected means every shard of this process is; `ready` comes once, after all of them.
        if up:
            self._shards_down.discard(shard_id)
        else:
            self._shards_down.add(shard_id)
        if self.is_ready():
            self._set_connected(not self._shards_down)

    async def on_shard_connect(self, shard_id: int) -> None:
        self._shard_up(shard_id, True)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._shard_up(shard_id, True)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._shard_up(shard_id, False)

    async def open_services(self) -> None:
        services = await open_services(
            self.config,
            deliverer=self.deliverer,
            observer=self.job_cards,
            fresh_video_url=self.fresh_video_url,
            # The board is a channel message: its caption is in the server's language.
            board_locale=lambda session: server_locale(self, session.guild_id),
            # The web picker redraws boards through Discord and shares the members' cooldowns.
            web_side=DiscordPickerSide(self),
            cooldowns=self.cooldowns,
        )
        self.services = services
        self.http_session = services.http
        self.store = services.store
        self.kling = services.kling
        self.runner = services.runner
        self.editing = services.editing

    async def _start_runner_when_ready(self) -> None:
        # Deliveries and card edits need the gateway's view of the servers (upload limits).
        await self.wait_until_ready()
        if self.services is not None:
            await self.services.runner.start()
            self.runner_started.set()
            log.info("job runner started (%d jobs in flight)", self.services.runner.in_flight)

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        if event_name == "interaction" and args and isinstance(args[0], discord.Interaction):
            # discord.py has just handed the click to its views, whose tasks have not run yet:
            # the one moment to tell whether anything listens to it.
            note_unheard(self, args[0])
        super().dispatch(event_name, *args, **kwargs)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.deliverer.remember_upload_limit(interaction)
        await answer_unheard(interaction)

    async def fresh_video_url(self, session: Session) -> str:
        """The session video's current Discord URL (attachment URLs expire; messages renew them)."""
        message_id = session.board_message_id or session.source_message_id
        if message_id is not None:
            channel = self.get_partial_messageable(session.channel_id, guild_id=session.guild_id)
            try:
                message = await channel.fetch_message(message_id)
            except discord.HTTPException as error:
                log.info("session %s: its message is gone (%s)", session.id, error)
            else:
                wanted = session.source_attachment_id
                videos = [
                    a
                    for a in message.attachments
                    if (a.content_type or "").startswith("video/") or a.id == wanted
                ]
                chosen = next((a for a in videos if a.id == wanted), videos[0] if videos else None)
                if chosen is not None:
                    return chosen.url
        if session.source_url:
            return session.source_url
        raise LookupError(f"session {session.id} has no video message or URL")

    async def close(self) -> None:
        loop: object = self.loop  # discord.py's placeholder until set up, typed as a loop
        if not isinstance(loop, asyncio.AbstractEventLoop):
            # Never entered nor logged in: AutoShardedClient.close needs what this setup makes
            # (as login() and `async with` run it first), a plain Client's did not.
            await self._async_setup_hook()
        for task in (self._runner_start, self._heartbeat, self._retention):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._runner_start = self._heartbeat = self._retention = None
        if self.connected:
            self._set_connected(False)
        await self.job_cards.close()
        if self.services is not None:
            await close_services(self.services)
            self.services = None
        await super().close()

    async def command_schema(self) -> list[dict[str, Any]]:
        """What ``tree.sync`` sends: once the translator is set (``setup_hook``), every command's
        ``name_localizations`` and ``description_localizations`` as well."""
        translator = self.tree.translator
        payload = [
            await cmd.get_translated_payload(self.tree, translator)
            if translator is not None
            else cmd.to_dict(self.tree)
            for cmd in self.tree.get_commands()
        ]
        return sorted(payload, key=lambda c: (c.get("type", 1), c["name"]))

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
        digest = await self._schema_digest()
        self._sync_marker.parent.mkdir(parents=True, exist_ok=True)
        self._sync_marker.write_text(digest)
        return len(synced)

    async def _schema_digest(self) -> str:
        # The translated payload: a changed translation must reach Discord like a new command.
        payload = {
            "guilds": list(self.config.discord.sync_guild_ids),
            "commands": await self.command_schema(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def sync_if_changed(self) -> None:
        marker = self._sync_marker
        if marker.exists() and marker.read_text().strip() == await self._schema_digest():
            log.info("slash commands unchanged since the last registration")
            return
        count = await self.sync_commands()
        log.info("registered %d slash commands", count)

    async def on_ready(self) -> None:
        log.info(
            "connected as %s to %d servers on shards %s of %s",
            self.user,
            len(self.guilds),
            ", ".join(str(i) for i in sorted(self.shards)),
            self.shard_count,
        )
        self._set_connected(not self._shards_down)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_bot(config: Config) -> int:
    """Run until closed; SIGTERM/SIGINT close the bot gracefully (runner steps finish their
    writes within the grace period, then the store is closed) and the exit code is 0."""
    token = discord_token(config)
    loop = asyncio.get_running_loop()
    async with KlingBot(config) as bot:
        closing: list[asyncio.Task[None]] = []

        def stop(name: str) -> None:
            if not closing:
                log.info("%s received: shutting down", name)
                closing.append(asyncio.create_task(bot.close()))

        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop, sig.name)
        try:
            await log_in(bot, token)
            try:
                await bot.connect()
            except discord.ConnectionClosed as error:
                if error.code in SHARD_REFUSALS:
                    raise StartupError([SHARD_REFUSALS[error.code]]) from None
                raise
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
            if closing:
                await closing[0]
    log.info("stopped")
    return 0


async def sync_commands(config: Config) -> int:
    token = discord_token(config)
    async with KlingBot(config) as bot:
        await log_in(bot, token)
        i18n.load_all()
        await bot.tree.set_translator(KlingTranslator())
        for name in EXTENSIONS:
            if name not in bot.extensions:
                await bot.load_extension(name)
        count = await bot.sync_commands()
    print(f"registered {count} slash commands")
    return 0
