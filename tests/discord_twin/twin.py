"""DiscordTwin: a loopback Discord (REST v10 + gateway + CDN) for end-to-end bot tests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import discord
from aiohttp import web

from .cdn import Cdn, guess_content_type, probe_media
from .clock import SnowflakeFactory, TwinClock, new_token
from .dms import DirectMessages
from .gateway import GatewayHub
from .model import (
    DEFAULT_UPLOAD_LIMIT,
    EPHEMERAL_FLAG,
    RecordedRequest,
    StoredFile,
    TwinChannel,
    TwinGuild,
    TwinMember,
    TwinMessage,
    TwinRole,
    TwinUserRecord,
    Violation,
    walk_components,
)
from .payloads import message_json
from .rate_limits import RateLimiter
from .records import InteractionRecord

T = TypeVar("T")
# Not a secret: the token the stand-in accepts from the bot under test.
TWIN_BOT_TOKEN = "twin-bot-token"

DEFAULT_MEMBER_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
    attach_files=True,
    embed_links=True,
    add_reactions=True,
    use_application_commands=True,
    use_external_emojis=True,
).value
BOT_ROLE_PERMISSIONS = (
    DEFAULT_MEMBER_PERMISSIONS
    | discord.Permissions(manage_messages=True, manage_threads=True).value
)


class DiscordTwin:
    """Holds the stand-in's world and serves it. Create with `await DiscordTwin.start()`."""

    def __init__(
        self,
        *,
        token: str = TWIN_BOT_TOKEN,
        bot_name: str = "Kling Bot",
        recommended_shards: int = 1,
        max_guilds_per_shard: int = 2500,
    ) -> None:
        self.clock = TwinClock()
        self.ids = SnowflakeFactory(self.clock)
        self.cdn = Cdn(self.clock)
        self.token = token
        # What GET /gateway/bot recommends, and how many guilds one session may hold before
        # IDENTIFY is refused with 4011 (Discord's limit is 2,500).
        self.recommended_shards = recommended_shards
        self.max_guilds_per_shard = max_guilds_per_shard
        self.application_id = self.ids.next()
        self.bot_user = TwinUserRecord(
            self.application_id, bot_name.lower().replace(" ", ""), bot_name, bot=True
        )
        self.users: dict[int, TwinUserRecord] = {self.bot_user.id: self.bot_user}
        self.guilds: dict[int, TwinGuild] = {}
        self.channels: dict[int, TwinChannel] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.violations: list[Violation] = []
        self.requests: list[RecordedRequest] = []
        self.unknown_routes: list[str] = []
        self.rate_limits = RateLimiter()
        self.gateway = GatewayHub(self)
        self.dms = DirectMessages(self)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    async def start(cls, **kwargs: Any) -> DiscordTwin:
        from .rest import build_app

        twin = cls(**kwargs)
        twin._runner = web.AppRunner(build_app(twin), access_log=None)
        await twin._runner.setup()
        site = web.TCPSite(twin._runner, "127.0.0.1", 0)
        await site.start()
        port = twin._runner.addresses[0][1]
        twin.url = f"http://127.0.0.1:{port}"
        twin.cdn.base_url = f"{twin.url}/cdn"
        return twin

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        """What a bot puts in `discord.http.Route.BASE` (config `[discord] api_base`)."""
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/gateway"

    @property
    def gateway_trap_url(self) -> str:
        """Stands in for wss://gateway.discord.gg while a test runs; dialing it is a violation."""
        return self.url.replace("http://", "ws://") + "/default-gateway-trap"

    # -- world building --------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False) -> TwinUserRecord:
        user = TwinUserRecord(self.ids.next(), name.lower(), name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Test Server",
        *,
        channels: Iterable[str] = ("general",),
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        everyone_permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        shard: tuple[int, int] | None = None,
    ) -> TwinGuild:
        """A guild the bot is in; `shard=(id, count)` gives it an id on that shard of `count`."""
        owner = self.add_user(f"{name} owner")
        guild_id = self.ids.next() if shard is None else self.ids.on_shard(*shard)
        guild = TwinGuild(guild_id, name, owner.id, upload_limit=upload_limit)
        guild.roles[guild.id] = TwinRole(guild.id, "@everyone", everyone_permissions)
        bot_role = TwinRole(
            self.ids.next(), self.bot_user.global_name or "bot", BOT_ROLE_PERMISSIONS, position=1
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = TwinMember(owner, guild.id)
        guild.members[self.bot_user.id] = TwinMember(self.bot_user, guild.id, roles=[bot_role.id])
        self.guilds[guild.id] = guild
        for position, channel_name in enumerate(channels):
            self._new_channel(guild, channel_name, position)
        self.gateway.guild_added(guild)
        return guild

    def add_channel(self, guild: TwinGuild, name: str) -> TwinChannel:
        channel = self._new_channel(guild, name, len(guild.channels))
        self.gateway.channel_created(channel)
        return channel

    def _new_channel(self, guild: TwinGuild, name: str, position: int) -> TwinChannel:
        channel = TwinChannel(self.ids.next(), guild.id, name, position=position, twin=self)
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_role(self, guild: TwinGuild, name: str, permissions: int = 0) -> TwinRole:
        role = TwinRole(self.ids.next(), name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def member(self, guild: TwinGuild, name: str, *, roles: Iterable[TwinRole] = ()) -> Any:
        """The member called `name` (created on first use), as an actor with user actions."""
        from .actors import TwinActor

        for m in guild.members.values():
            if m.user.username == name.lower():
                return TwinActor(self, guild, m)
        user = self.add_user(name)
        member = TwinMember(user, guild.id, roles=[r.id for r in roles])
        guild.members[user.id] = member
        self.gateway.member_added(member)
        return TwinActor(self, guild, member)

    def deny_bot(self, channel: TwinChannel, **permissions: bool) -> None:
        """Give the bot a channel overwrite denying e.g. `send_messages=True, attach_files=True`."""
        channel.bot_denied |= discord.Permissions(**permissions).value
        self.gateway.channel_updated(channel)

    def set_upload_limit(self, guild: TwinGuild, limit: int) -> None:
        guild.upload_limit = limit

    def bot_permissions(self, channel: TwinChannel) -> int:
        guild = self.guilds[channel.guild_id]
        perms = guild.base_permissions(self.bot_user.id)
        denied = channel.bot_denied
        if channel.parent_id is not None and channel.parent_id in self.channels:
            denied |= self.channels[channel.parent_id].bot_denied
        return perms & ~denied

    # -- messages --------------------------------------------------------------------------

    def iso_now(self) -> str:
        return dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).isoformat()

    def store_file(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> StoredFile:
        ctype = content_type or guess_content_type(filename)
        width, height, duration = probe_media(data, ctype)
        f = StoredFile(
            self.ids.next(),
            channel_id,
            filename,
            data,
            ctype,
            description,
            width,
            height,
            duration,
            ephemeral,
        )
        return self.cdn.add(f)

    def create_message(
        self,
        channel: TwinChannel,
        author: TwinUserRecord,
        *,
        content: str = "",
        embeds: list[dict[str, Any]] | None = None,
        components: list[dict[str, Any]] | None = None,
        files: list[StoredFile] | None = None,
        flags: int = 0,
        type: int = 0,
        visible_to: int | None = None,
        **extra: Any,
    ) -> TwinMessage:
        msg = TwinMessage(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=content,
            embeds=embeds or [],
            components=number_components(components or []),
            files=files or [],
            flags=flags,
            type=type,
            timestamp=self.iso_now(),
            visible_to=visible_to,
            **extra,
        )
        channel.messages[msg.id] = msg
        if not flags & EPHEMERAL_FLAG:
            data = message_json(msg, self)
            self.gateway.dispatch("MESSAGE_CREATE", data, guild_id=msg.guild_id, intent_bit=9)
        self.notify()
        return msg

    def message_updated(self, msg: TwinMessage) -> None:
        msg.edited_timestamp = self.iso_now()
        msg.edit_count += 1
        msg.components = number_components(msg.components)
        if not msg.ephemeral:
            data = message_json(msg, self)
            self.gateway.dispatch("MESSAGE_UPDATE", data, guild_id=msg.guild_id, intent_bit=9)
        self.notify()

    def delete_message(self, msg: TwinMessage) -> None:
        msg.deleted = True
        if not msg.ephemeral:
            data = {
                "id": str(msg.id),
                "channel_id": str(msg.channel_id),
                "guild_id": str(msg.guild_id),
            }
            self.gateway.dispatch("MESSAGE_DELETE", data, guild_id=msg.guild_id, intent_bit=9)
        self.notify()

    def find_message(self, message_id: int) -> TwinMessage | None:
        for ch in self.channels.values():
            if message_id in ch.messages:
                return ch.messages[message_id]
        return None

    # -- threads ---------------------------------------------------------------------------

    def create_thread(
        self, parent: TwinChannel, name: str, *, thread_id: int | None = None, type: int = 11
    ) -> TwinChannel:
        guild = self.guilds[parent.guild_id]
        thread = TwinChannel(
            thread_id or self.ids.next(),
            guild.id,
            name,
            type=type,
            parent_id=parent.id,
            owner_id=self.bot_user.id,
            twin=self,
        )
        guild.channels[thread.id] = thread
        self.channels[thread.id] = thread
        self.gateway.thread_created(thread)
        self.notify()
        return thread

    # -- interactions ----------------------------------------------------------------------

    def new_interaction_token(self) -> str:
        return new_token()

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        for rec in self.interactions.values():
            if rec.token == token:
                return rec
        return None

    # -- rule tracking and waiting ---------------------------------------------------------

    def violate(self, code: int, message: str, interaction_id: int | None = None) -> None:
        self.violations.append(Violation(code, message, interaction_id))
        self.notify()

    def take_violations(self, code: int | None = None) -> list[Violation]:
        """Remove and return the recorded violations (all, or those with `code`)."""
        taken = [v for v in self.violations if code is None or v.code == code]
        self.violations = [v for v in self.violations if v not in taken]
        return taken

    def take_unknown_routes(self) -> list[str]:
        taken, self.unknown_routes = self.unknown_routes, []
        return taken

    def assert_clean(self) -> None:
        """Fail if the bot broke a Discord rule or called a route the stand-in does not know."""
        problems = [str(v) for v in self.violations]
        problems += [f"unknown route {r}" for r in self.unknown_routes]
        if problems:
            raise AssertionError("Discord stand-in saw problems:\n  " + "\n  ".join(problems))

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(
        self,
        check: Callable[[], T | None],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> T:
        """Wait until `check()` returns something truthy (re-checked on every change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            # Re-check periodically too: the twin clock can move without an event.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.25))

    async def wait_for_violation(self, code: int, timeout: float = 10.0) -> Violation:  # noqa: ASYNC109
        return await self.wait_until(
            lambda: next((v for v in self.violations if v.code == code), None), timeout
        )


def number_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every component a numeric `id`, as Discord does for ones sent without one."""
    used = {c["id"] for c in walk_components(components) if isinstance(c.get("id"), int)}
    next_id = 1
    for comp in walk_components(components):
        if not isinstance(comp.get("id"), int):
            while next_id in used:
                next_id += 1
            comp["id"] = next_id
            used.add(next_id)
    return components
