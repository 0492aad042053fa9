"""Sharding in the stand-in: per-shard READY and GUILD_CREATE, events on the guild's shard,
refused IDENTIFYs (4010 invalid shard, 4011 sharding required)."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest

from tests.discord_twin import DiscordTwin, bot_running

from .minibot import MiniBot


class Session:
    """A hand-driven gateway websocket (zlib-stream), to see exactly what the stand-in sends."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inflater = zlib.decompressobj()

    async def receive(self) -> dict[str, Any]:
        frame = await self.ws.receive(timeout=5)
        if frame.type != aiohttp.WSMsgType.BINARY:
            raise ConnectionError(
                f"gateway sent {frame.type.name} (close code {self.ws.close_code})"
            )
        payload: dict[str, Any] = json.loads(self.inflater.decompress(frame.data))
        return payload

    async def identify(self, twin: DiscordTwin, shard: Any = None) -> None:
        data: dict[str, Any] = {"token": twin.token, "intents": 1, "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await self.ws.send_json({"op": 2, "d": data})

    async def dispatches(self, count: int) -> list[tuple[str, Any]]:
        events = []
        while len(events) < count:
            frame = await self.receive()
            if frame["op"] == 0:
                events.append((frame["t"], frame["d"]))
        return events

    async def closed_with(self) -> int | None:
        frame = await self.ws.receive(timeout=5)
        assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), frame
        return self.ws.close_code


@asynccontextmanager
async def session(twin: DiscordTwin) -> AsyncIterator[Session]:
    url = twin.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        s = Session(ws)
        assert (await s.receive())["op"] == 10  # HELLO
        yield s


async def ready_and_guilds(twin: DiscordTwin, shard: list[int]) -> tuple[list[str], list[str]]:
    """What a session on `shard` is told at IDENTIFY: READY's guild ids, then GUILD_CREATEs."""
    async with session(twin) as s:
        await s.identify(twin, shard)
        (event, ready), *_ = await s.dispatches(1)
        assert event == "READY" and ready["shard"] == shard
        listed = [g["id"] for g in ready["guilds"]]
        created = [d["id"] for _, d in await s.dispatches(len(listed))]
        return listed, created


def test_guild_ids_land_on_the_chosen_shard(discord_twin: DiscordTwin) -> None:
    ids = [discord_twin.ids.on_shard(shard, 3) for shard in (2, 0, 1, 1, 2)]
    assert [(i >> 22) % 3 for i in ids] == [2, 0, 1, 1, 2]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    guild = discord_twin.add_guild("Far", shard=(5, 7))
    assert (guild.id >> 22) % 7 == 5
    with pytest.raises(ValueError, match="not one of 2 shards"):
        discord_twin.ids.on_shard(2, 2)


async def test_gateway_bot_recommends_the_configured_shard_count(discord_twin: DiscordTwin) -> None:
    discord_twin.recommended_shards = 3
    headers = {"Authorization": f"Bot {discord_twin.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(discord_twin.api_base + "/gateway/bot", headers=headers) as resp,
    ):
        body = await resp.json()
    assert (body["shards"], body["url"]) == (3, discord_twin.gateway_url)


async def test_each_shard_is_told_only_about_its_guilds(discord_twin: DiscordTwin) -> None:
    on_0 = discord_twin.add_guild("Zero", shard=(0, 2))
    on_1 = discord_twin.add_guild("One", shard=(1, 2))
    also_1 = discord_twin.add_guild("One too", shard=(1, 2))

    assert await ready_and_guilds(discord_twin, [0, 2]) == ([str(on_0.id)], [str(on_0.id)])
    ones = [str(on_1.id), str(also_1.id)]
    assert await ready_and_guilds(discord_twin, [1, 2]) == (ones, ones)
    # Unsharded (no `shard`, or [0, 1]): every guild.
    every = [str(g.id) for g in (on_0, on_1, also_1)]
    assert await ready_and_guilds(discord_twin, [0, 1]) == (every, every)


async def test_guild_events_go_only_to_the_session_of_the_guilds_shard(
    discord_twin: DiscordTwin,
) -> None:
    on_0 = discord_twin.add_guild("Zero", shard=(0, 2))
    on_1 = discord_twin.add_guild("One", shard=(1, 2))
    async with session(discord_twin) as s0, session(discord_twin) as s1:
        await s0.identify(discord_twin, [0, 2])
        await s1.identify(discord_twin, [1, 2])
        await s0.dispatches(2)  # READY, GUILD_CREATE
        await s1.dispatches(2)
        discord_twin.add_channel(on_1, "clips")
        discord_twin.add_channel(on_0, "renders")
        later = discord_twin.add_guild("Later", shard=(1, 2))
        (event, data), *_ = await s0.dispatches(1)
        assert (event, data["name"], data["guild_id"]) == (
            "CHANNEL_CREATE",
            "renders",
            str(on_0.id),
        )
        heard = [(e, d.get("guild_id", d["id"])) for e, d in await s1.dispatches(2)]
        assert heard == [("CHANNEL_CREATE", str(on_1.id)), ("GUILD_CREATE", str(later.id))]
        by_shard = {c.shard_id: c.events for c in discord_twin.gateway.sessions()}
        assert ("CHANNEL_CREATE", on_1.id) not in by_shard[0]
        assert ("GUILD_CREATE", later.id) not in by_shard[0]


async def test_two_sessions_on_one_shard_both_hear_it(discord_twin: DiscordTwin) -> None:
    # As on Discord: a second process started with the same shard is not refused; both get
    # the guild's events (which is why jobs are claimed in the database).
    guild = discord_twin.add_guild("Shared", shard=(1, 2))
    async with session(discord_twin) as a, session(discord_twin) as b:
        for s in (a, b):
            await s.identify(discord_twin, [1, 2])
            await s.dispatches(2)
        discord_twin.add_channel(guild, "twice")
        for s in (a, b):
            (event, data), *_ = await s.dispatches(1)
            assert (event, data["name"]) == ("CHANNEL_CREATE", "twice")


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], ["0", 2], [0]])
async def test_an_invalid_shard_is_closed_with_4010(discord_twin: DiscordTwin, shard: Any) -> None:
    async with session(discord_twin) as s:
        await s.identify(discord_twin, shard)
        assert await s.closed_with() == 4010
    assert not discord_twin.gateway.connected


async def test_too_many_guilds_on_one_session_is_closed_with_4011(
    discord_twin: DiscordTwin,
) -> None:
    discord_twin.max_guilds_per_shard = 1
    discord_twin.add_guild("Zero", shard=(0, 2))
    discord_twin.add_guild("One", shard=(1, 2))
    async with session(discord_twin) as s:
        await s.identify(discord_twin)
        assert await s.closed_with() == 4011
    # Two shards of one guild each are within the limit.
    assert len((await ready_and_guilds(discord_twin, [1, 2]))[0]) == 1


class TwoShardMiniBot(MiniBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # the stand-in has no identify rate limit: skip discord.py's 5 s between shards


async def test_a_bot_on_the_recommended_shards_answers_on_the_guilds_shard(
    discord_twin: DiscordTwin,
) -> None:
    discord_twin.recommended_shards = 2
    discord_twin.add_guild("Zero", shard=(0, 2))
    on_1 = discord_twin.add_guild("One", shard=(1, 2))
    alice = discord_twin.member(on_1, "alice")
    bot = TwoShardMiniBot(on_1.id)
    async with bot_running(bot, discord_twin):
        assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
        shards = sorted(p["shard"] for p in discord_twin.gateway.identify_payloads)
        assert shards == [[0, 2], [1, 2]]
        handle = await alice.slash("ping")
        assert (await handle.response()).content == "pong"
        guild = bot.get_guild(on_1.id)
        assert guild is not None and guild.shard_id == 1
        heard = {
            c.shard_id: [e for e, g in c.events if e == "INTERACTION_CREATE"]
            for c in discord_twin.gateway.sessions()
        }
        assert heard == {0: [], 1: ["INTERACTION_CREATE"]}
    assert isinstance(bot, discord.AutoShardedClient)
