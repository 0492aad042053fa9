"""The gateway websocket: HELLO, heartbeats, IDENTIFY, READY, GUILD_CREATE and dispatches.

Sharding as Discord does it: IDENTIFY may carry ``shard: [id, count]`` (none means ``[0, 1]``); a
session hears only the guilds on its shard, ``(guild_id >> 22) % count``, and direct messages on
shard 0. A shard id outside ``0..count-1`` is closed with 4010, a session that would hold more than
``DiscordTwin.max_guilds_per_shard`` guilds with 4011. Like Discord, two sessions on the same shard
are both accepted and both hear its events (two processes misconfigured with the same shards).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .payloads import channel_json, guild_create_json

if TYPE_CHECKING:
    from .model import TwinChannel, TwinGuild, TwinMember
    from .twin import DiscordTwin

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, REQUEST_MEMBERS = 0, 1, 2, 6, 8
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11
HEARTBEAT_INTERVAL_MS = 41_250
GUILD_MEMBERS_INTENT_BIT = 1
INVALID_SHARD, SHARDING_REQUIRED = 4010, 4011


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's rule for the shard that carries a guild's events."""
    return (guild_id >> 22) % shard_count


class GatewayConnection:
    """One bot websocket; frames go out through a queue so sync code can dispatch in order."""

    def __init__(self, ws: web.WebSocketResponse, compression: str | None) -> None:
        self.ws = ws
        self._zlib = zlib.compressobj() if compression == "zlib-stream" else None
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.seq = 0
        self.intents = 0
        self.ready = False
        self.shard: list[int] | None = None
        # (event, guild id or None) of every dispatch sent: which session heard what.
        self.events: list[tuple[str, int | None]] = []

    @property
    def shard_id(self) -> int:
        return self.shard[0] if self.shard else 0

    @property
    def shard_count(self) -> int:
        return self.shard[1] if self.shard else 1

    def hears(self, guild_id: int | None) -> bool:
        """Whether this session is sent the events of `guild_id` (None: a direct message)."""
        if guild_id is None:
            return self.shard_id == 0
        return shard_of(guild_id, self.shard_count) == self.shard_id

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(payload)

    def dispatch(self, event: str, data: Any, guild_id: int | None = None) -> None:
        self.seq += 1
        self.events.append((event, guild_id))
        self.send({"op": DISPATCH, "t": event, "s": self.seq, "d": data})

    async def writer(self) -> None:
        while True:
            payload = await self.queue.get()
            if payload is None or self.ws.closed:
                return
            text = json.dumps(payload)
            if self._zlib is not None:
                # One compressor for the whole connection; each frame ends 00 00 ff ff.
                frame = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(text)


class GatewayHub:
    def __init__(self, twin: DiscordTwin) -> None:
        self.twin = twin
        self.connections: list[GatewayConnection] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.compressions: list[str | None] = []
        self.received_ops: list[int] = []
        self.trapped = False

    @property
    def connected(self) -> bool:
        return any(c.ready for c in self.connections)

    def sessions(self, shard_id: int | None = None) -> list[GatewayConnection]:
        """The identified sessions (on `shard_id` only, if given)."""
        return [
            c for c in self.connections if c.ready and (shard_id is None or c.shard_id == shard_id)
        ]

    async def wait_for_shards(self, *shard_ids: int, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Wait until a session has identified on each of `shard_ids`."""
        await self.twin.wait_until(lambda: all(self.sessions(i) for i in shard_ids), timeout)

    async def wait_until_connected(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        await self.twin.wait_until(lambda: self.connected, timeout)

    async def trap(self, request: web.Request) -> web.Response:
        self.trapped = True
        self.twin.violate(
            -1,
            "the bot dialed discord.py's DEFAULT_GATEWAY instead of the url from GET /gateway/bot",
        )
        return web.Response(status=404)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compression = request.query.get("compress")
        self.compressions.append(compression)
        if compression not in (None, "zlib-stream"):
            self.twin.violate(4000, f"gateway compression {compression!r} is not supported")
            await ws.close(code=4000, message=b"unsupported compression")
            return ws
        conn = GatewayConnection(ws, compression)
        self.connections.append(conn)
        writer = asyncio.create_task(conn.writer())
        conn.send({"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._on_frame(conn, json.loads(msg.data))
        finally:
            conn.ready = False
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await writer
            self.connections.remove(conn)
        return ws

    async def _on_frame(self, conn: GatewayConnection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        self.received_ops.append(op if isinstance(op, int) else -1)
        data = frame.get("d")
        if op == HEARTBEAT:
            conn.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(conn, data)
        elif op == RESUME:
            # Sessions are not kept; discord.py then identifies again.
            conn.send({"op": INVALID_SESSION, "d": False})
        elif op == REQUEST_MEMBERS:
            self._members_chunk(conn, data)

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        self.identify_payloads.append({k: v for k, v in data.items() if k != "token"})
        if data.get("token") != self.twin.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        twin = self.twin
        shard = data.get("shard")
        if shard is not None and not _valid_shard(shard):
            await conn.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        conn.shard = shard
        guilds = [g for g in twin.guilds.values() if conn.hears(g.id)]
        if len(guilds) > twin.max_guilds_per_shard:
            await conn.ws.close(code=SHARDING_REQUIRED, message=b"Sharding required.")
            return
        conn.intents = int(data.get("intents", 0))
        ready: dict[str, Any] = {
            "v": 10,
            "user": {
                **twin.bot_user.to_json(),
                "verified": True,
                "mfa_enabled": False,
                "email": None,
            },
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": secrets.token_hex(16),
            "resume_gateway_url": twin.gateway_url,
            "session_type": "normal",
            "application": {"id": str(twin.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": ["local"],
            "guild_join_requests": [],
            "user_settings": {},
            "auth": {},
            "_trace": ['["discord-twin",{"micros":0}]'],
        }
        if conn.shard is not None:
            ready["shard"] = conn.shard
        conn.dispatch("READY", ready)
        for guild in guilds:
            conn.dispatch("GUILD_CREATE", guild_create_json(guild, twin), guild.id)
        conn.ready = True
        twin.notify()

    def _members_chunk(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        guild = self.twin.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        members = list(guild.members.values())
        wanted = data.get("user_ids")
        if wanted:
            ids = {int(u) for u in (wanted if isinstance(wanted, list) else [wanted])}
            members = [m for m in members if m.user.id in ids]
        elif data.get("query"):
            query = str(data["query"]).lower()
            members = [m for m in members if m.user.username.startswith(query)]
        chunk = {
            "guild_id": str(guild.id),
            "members": [m.to_json() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        conn.dispatch("GUILD_MEMBERS_CHUNK", chunk, guild.id)

    # -- events from the twin's world ------------------------------------------------------

    def dispatch(
        self, event: str, data: Any, *, guild_id: int | None, intent_bit: int | None = None
    ) -> None:
        """Send `event` on every session of the shard of `guild_id` (None: a DM, shard 0)."""
        for conn in self.connections:
            if not conn.ready or not conn.hears(guild_id):
                continue
            if intent_bit is not None and not conn.intents & (1 << intent_bit):
                continue
            conn.dispatch(event, data, guild_id)

    def guild_added(self, guild: TwinGuild) -> None:
        self.dispatch("GUILD_CREATE", guild_create_json(guild, self.twin), guild_id=guild.id)

    def channel_created(self, channel: TwinChannel) -> None:
        data = channel_json(channel, self.twin)
        self.dispatch("CHANNEL_CREATE", data, guild_id=channel.guild_id)

    def channel_updated(self, channel: TwinChannel) -> None:
        data = channel_json(channel, self.twin)
        self.dispatch("CHANNEL_UPDATE", data, guild_id=channel.guild_id)

    def thread_created(self, thread: TwinChannel) -> None:
        data = {**channel_json(thread, self.twin), "newly_created": True}
        self.dispatch("THREAD_CREATE", data, guild_id=thread.guild_id)

    def member_added(self, member: TwinMember) -> None:
        data = {**member.to_json(), "guild_id": str(member.guild_id)}
        self.dispatch(
            "GUILD_MEMBER_ADD",
            data,
            guild_id=member.guild_id,
            intent_bit=GUILD_MEMBERS_INTENT_BIT,
        )

    async def close_all(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)


def _valid_shard(shard: Any) -> bool:
    if not isinstance(shard, list) or len(shard) != 2:
        return False
    shard_id, count = shard
    if not (isinstance(shard_id, int) and isinstance(count, int)):
        return False
    return count >= 1 and 0 <= shard_id < count
