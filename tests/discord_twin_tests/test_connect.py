"""Log-in, gateway protocol and routing of the stand-in."""

from __future__ import annotations

import importlib.util
import json
import zlib

import aiohttp
import discord
import pytest
from discord.ext import commands

from tests.discord_twin import DiscordTwin, TwinGuild, bot_running
from tests.discord_twin.connect import compression_in_use, use_gateway_from_rest

from .minibot import MiniBot


async def test_sharded_bot_logs_in_with_only_the_rest_base_changed(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    assert minibot.user is not None and minibot.user.id == discord_twin.bot_user.id
    guild = minibot.get_guild(twin_guild.id)
    assert guild is not None and guild.name == "Test Server"
    assert [c.name for c in guild.text_channels] == ["general"]
    assert guild.me is not None and guild.me.guild_permissions.send_messages
    called = {(r.method, r.path) for r in discord_twin.requests}
    assert {
        ("GET", "/users/@me"),
        ("GET", "/gateway/bot"),
        ("GET", "/oauth2/applications/@me"),
    } <= called
    assert discord_twin.gateway.compressions == ["zlib-stream"]
    assert discord_twin.gateway.identify_payloads[0]["intents"] == discord.Intents.default().value
    # The bot synced its commands to the guild: the twin knows their schema.
    names = {c["name"] for c in discord_twin.guild_commands[twin_guild.id]}
    assert {"ping", "demo", "slow", "Edit video with Kling"} <= names


async def test_plain_bot_uses_gateway_from_rest_in_setup_hook(
    discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    class PlainBot(commands.Bot):
        async def setup_hook(self) -> None:
            await use_gateway_from_rest(self)

    bot = PlainBot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1)
    async with bot_running(bot, discord_twin):
        assert bot.get_guild(twin_guild.id) is not None
    assert discord_twin.gateway.compressions == ["zlib-stream"]


def test_zstandard_absent_so_discord_py_asks_for_zlib_stream() -> None:
    # The stand-in only speaks zlib-stream; installing zstandard would switch discord.py over.
    assert importlib.util.find_spec("zstandard") is None
    assert compression_in_use() == "zlib-stream"


async def test_wrong_token_fails_login(discord_twin: DiscordTwin) -> None:
    bot = commands.AutoShardedBot(command_prefix="!", intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        async with bot_running(bot, discord_twin, token="another-token"):
            pass


async def test_plain_bot_dialing_default_gateway_fails_loudly(
    discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    with pytest.raises(AssertionError, match="default gateway"):
        async with bot_running(bot, discord_twin):
            pass
    assert [v.code for v in discord_twin.take_violations()] == [-1]


async def test_gateway_frames_are_one_zlib_stream_with_sync_flush(
    discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    inflater = zlib.decompressobj()
    url = discord_twin.gateway_url + "?v=10&encoding=json&compress=zlib-stream"

    async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict:
        frame = await ws.receive_bytes(timeout=5)
        assert frame.endswith(b"\x00\x00\xff\xff")
        return json.loads(inflater.decompress(frame))

    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await receive(ws)
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 1, "d": None})
        assert (await receive(ws))["op"] == 11
        await ws.send_json(
            {"op": 2, "d": {"token": discord_twin.token, "intents": 513, "properties": {}}}
        )
        ready = await receive(ws)
        assert ready["t"] == "READY" and ready["s"] == 1
        assert ready["d"]["guilds"] == [{"id": str(twin_guild.id), "unavailable": True}]
        guild = await receive(ws)
        assert guild["t"] == "GUILD_CREATE" and guild["s"] == 2
        member = next(m for m in guild["d"]["members"] if m["user"]["username"] != "kling bot")
        for key in ("flags", "joined_at", "roles"):
            assert key in member
        for key in ("discriminator", "avatar", "global_name"):
            assert key in member["user"]


async def test_unknown_route_is_404_json_and_recorded(discord_twin: DiscordTwin) -> None:
    headers = {"Authorization": f"Bot {discord_twin.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(discord_twin.api_base + "/guilds/1/bans", headers=headers) as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["code"] == 0
        async with session.get(discord_twin.api_base + "/users/@me") as resp:
            assert resp.status == 401
    assert discord_twin.take_unknown_routes() == ["GET /api/v10/guilds/1/bans"]


async def test_assert_clean_reports_violations(discord_twin: DiscordTwin) -> None:
    discord_twin.violate(40060, "acknowledged twice")
    with pytest.raises(AssertionError, match="acknowledged twice"):
        discord_twin.assert_clean()
    assert [v.code for v in discord_twin.take_violations()] == [40060]
    discord_twin.assert_clean()
