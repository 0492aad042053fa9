"""Shards (SPEC §11): `[discord] shard_count` / `shard_ids` choose the servers a process serves.

Two bots with shards 0 and 1 of 2 against one stand-in, a server on each shard: each sees only its
own server and answers the slash commands there; a bot with no shard settings takes Discord's
recommended count and serves both; Discord refusing the shard settings stops the start with one
clear line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.health import check_heartbeat
from bot.shards import ShardSet
from tests.cogs.delivery_support import start_bot_process, stop_bot_process
from tests.cogs.shard_harness import ShardedWorld, sharded
from tests.discord_twin import TwinGuild
from tests.processes import ChildProcess, child_env, python_module

REPO = Path(__file__).resolve().parents[2]
__all__ = ["sharded"]


async def open_session(world: ShardedWorld, guild: TwinGuild) -> None:
    alice = world.twin.member(guild, "alice")
    handle = await alice.slash("kling edit", video=world.video())
    reply = await handle.response(timeout=30)
    assert "editing session is open" in reply.content, reply.content


async def test_two_processes_each_serve_the_servers_on_their_shard(sharded: ShardedWorld) -> None:
    zero_only, one_only = ShardSet(2, (0,)), ShardSet(2, (1,))
    async with sharded.bot("zero", zero_only) as zero, sharded.bot("one", one_only) as one:
        assert (zero.shard_count, sorted(zero.shards)) == (2, [0])
        assert (one.shard_count, sorted(one.shards)) == (2, [1])
        assert [g.id for g in zero.guilds] == [sharded.zero.id]
        assert [g.id for g in one.guilds] == [sharded.one.id]
        # What the job runner asks: which servers are this process's.
        assert zero.config.discord.shards.owns(sharded.zero.id)
        assert not zero.config.discord.shards.owns(sharded.one.id)

        for guild, owner, other in ((sharded.zero, zero, one), (sharded.one, one, zero)):
            await open_session(sharded, guild)
            channel_id = guild.channel("general").id
            # The session lives in the database of the process that holds the server's shard.
            assert await owner.store.get_active_session(guild.id, channel_id) is not None
            assert await other.store.get_active_session(guild.id, channel_id) is None
        assert sharded.interactions_heard() == {0: [sharded.zero.id], 1: [sharded.one.id]}
    # The stand-in's teardown fails the test on any interaction answered twice.


async def test_shard_count_alone_runs_every_shard_of_it_in_this_process(
    sharded: ShardedWorld,
) -> None:
    # discord.py does not ask /gateway/bot when the count is given: the bot must, or it would
    # dial Discord's own gateway (the stand-in's trap fails the start then).
    sharded.twin.recommended_shards = 1
    async with sharded.bot("all", ShardSet(2)) as bot:
        assert (bot.shard_count, sorted(bot.shards)) == (2, [0, 1])
        assert sorted(g.id for g in bot.guilds) == sorted((sharded.zero.id, sharded.one.id))
    assert sorted(p["shard"] for p in sharded.twin.gateway.identify_payloads) == [[0, 2], [1, 2]]


async def test_no_shard_settings_take_the_recommended_count_and_serve_every_server(
    sharded: ShardedWorld,
) -> None:
    async with sharded.bot("single", ShardSet()) as bot:
        assert (bot.shard_count, sorted(bot.shards)) == (2, [0, 1])
        assert sorted(g.id for g in bot.guilds) == sorted((sharded.zero.id, sharded.one.id))
        assert bot.config.discord.shards.owns_everything
        for guild in (sharded.zero, sharded.one):
            handle = await sharded.twin.member(guild, "alice").slash("kling status")
            assert "no editing session in this channel" in (await handle.response()).content
        assert sharded.interactions_heard() == {0: [sharded.zero.id], 1: [sharded.one.id]}


async def test_the_health_check_says_not_connected_while_one_shard_is_down(
    sharded: ShardedWorld,
) -> None:
    async with sharded.bot("single", ShardSet()) as bot:
        assert check_heartbeat(bot.heartbeat_file).healthy
        (shard_1,) = sharded.twin.gateway.sessions(1)
        await shard_1.ws.close(code=4000)  # Discord's "unknown error": discord.py reconnects
        await sharded.twin.wait_until(lambda: not bot.connected, 10)
        health = check_heartbeat(bot.heartbeat_file)
        assert (health.healthy, health.reason) == (
            False,
            "the bot is running but not connected to Discord",
        )
        # Shard 0 kept serving meanwhile; shard 1 comes back on its own.
        handle = await sharded.twin.member(sharded.zero, "alice").slash("kling status")
        assert "no editing session" in (await handle.response()).content
        await sharded.twin.wait_until(
            lambda: bot.connected and sharded.twin.gateway.sessions(1), 20
        )
        assert check_heartbeat(bot.heartbeat_file).reason == "connected to Discord (2 servers)"


async def test_two_kling_bot_run_processes_answer_in_their_own_servers(
    sharded: ShardedWorld,
) -> None:
    procs: list[ChildProcess] = []
    try:
        for shard in (0, 1):
            settings = f"shard_count = 2\nshard_ids = [{shard}]"
            config = sharded.run_config(f"proc{shard}", settings)
            procs.append(await start_bot_process(config, sharded.twin))
            await sharded.twin.gateway.wait_for_shards(shard)
        for guild in (sharded.zero, sharded.one):
            handle = await sharded.twin.member(guild, "alice").slash("kling status")
            assert "no editing session in this channel" in (await handle.response()).content
        assert sharded.interactions_heard() == {0: [sharded.zero.id], 1: [sharded.one.id]}
        # Each says what it serves once ready (discord.py waits for the servers to arrive).
        for shard, proc in enumerate(procs):
            said = f"to 1 servers on shards {shard} of 2"
            await sharded.twin.wait_until(lambda p=proc, s=said: s in p.output(), 15)
    finally:
        for proc in procs:
            await stop_bot_process(proc)
    for proc in procs:
        assert proc.returncode == 0, proc.output()[-3000:]


async def test_discord_requiring_more_shards_stops_the_start_with_one_line(
    sharded: ShardedWorld,
) -> None:
    sharded.twin.max_guilds_per_shard = 1
    config = sharded.run_config("too-few", "shard_count = 1")
    proc = ChildProcess.start(
        python_module("bot.cli", "run", "--config", str(config)),
        cwd=REPO,
        env=child_env({"DISCORD_TOKEN": sharded.twin.token}),
        log=config.parent / "bot.log",
    )
    try:
        status = await asyncio.wait_for(proc.wait(), 30)
    finally:
        await proc.stop(kill=True)
    output = proc.output()
    assert status == 2, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert output.strip().splitlines()[-1] == (
        "kling-bot cannot start: Discord requires more shards (gateway close code 4011, too many "
        "servers on one shard): raise [discord] shard_count, or unset it to use Discord's "
        "recommended count"
    )
