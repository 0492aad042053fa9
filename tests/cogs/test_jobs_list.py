"""`/kling jobs [user]`: recent jobs with status, kind, who, when, units and links."""

from __future__ import annotations

import discord
import pytest
from discord.ext import commands

from bot.config import Config
from bot.storage import JobKind, JobState
from cogs.core.app import EXTENSIONS, KlingBot, use_api_base
from tests.cogs.admin_harness import (
    NOW,
    BotFactory,
    Clock,
    clock,
    run_bot,
    seed_job,
)
from tests.discord_twin import DiscordTwin
from tests.discord_twin.model import TwinGuild

__all__ = ["clock", "run_bot"]


async def test_jobs_lists_recent_jobs_newest_first_and_filters_by_member(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild, clock: Clock
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    bob = discord_twin.member(twin_guild, "bob")
    general = twin_guild.channel("general")
    guild = twin_guild.id
    where = {"guild": guild, "channel": general.id}

    async with run_bot() as bot:
        store = bot.store
        delivered = await seed_job(
            store, clock, user=alice.id, at=NOW - 7200, units=7.5, result_message_id=4242, **where
        )
        failed = await seed_job(
            store,
            clock,
            user=bob.id,
            at=NOW - 3600,
            kind=JobKind.EDIT_SWAP,
            outcome=JobState.FAILED,
            units=2,
            reason="The reference image was refused by a content check.",
            **where,
        )
        running = await seed_job(
            store,
            clock,
            user=alice.id,
            at=NOW - 600,
            kind=JobKind.ANIMATE,
            outcome=JobState.PROCESSING,
            **where,
        )
        await store.set_card_message(running.id, 5151)
        await seed_job(
            store,
            clock,
            user=bob.id,
            at=NOW - 60,
            kind=JobKind.EDIT_ADDITION,
            outcome=JobState.QUEUED,
            **where,
        )
        await seed_job(store, clock, user=bob.id, at=NOW - 30, guild=guild + 1, channel=general.id)

        reply = await (await alice.slash("kling jobs")).response()
        assert reply.ephemeral
        embed = reply.embeds[0]
        assert embed["title"] == "Recent Kling jobs"
        lines = embed["description"].split("\n")
        assert lines == [
            f"⏳ queued · **add** · <@{bob.id}> · <t:{int(NOW - 60)}:R>",
            f"🔄 processing · **animate** · <@{alice.id}> · <t:{int(NOW - 600)}:R>"
            f" · [job card](https://discord.com/channels/{guild}/{general.id}/5151)",
            f"❌ failed · **swap** · <@{bob.id}> · <t:{int(failed.created_at)}:R> · 2 units",
            "  ↳ The reference image was refused by a content check.",
            f"✅ done · **remove** · <@{alice.id}> · <t:{int(delivered.created_at)}:R>"
            f" · 7.5 units · [result](https://discord.com/channels/{guild}/{general.id}/4242)",
        ]

        mine = await (await bob.slash("kling jobs", user=alice)).response()
        assert mine.embeds[0]["title"] == "Recent Kling jobs of alice"
        described = mine.embeds[0]["description"]
        assert described.count("\n") == 1 and f"<@{bob.id}>" not in described

        carol = discord_twin.member(twin_guild, "carol")
        none = await (await bob.slash("kling jobs", user=carol)).response()
        assert none.embeds[0]["description"] == f"<@{carol.id}> has no Kling jobs yet."


async def test_jobs_is_refused_in_a_disabled_channel(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    quiet = discord_twin.add_channel(twin_guild, "quiet")
    async with run_bot() as bot:
        await bot.store.set_channel_disabled(twin_guild.id, quiet.id, True)
        reply = await (await alice.slash("kling jobs", channel=quiet)).response()
        assert reply.content.startswith("The bot is disabled in this channel")
        assert not reply.embeds
        elsewhere = await (await alice.slash("kling jobs")).response()
        assert elsewhere.embeds[0]["description"] == "This server has no Kling jobs yet."


async def test_jobs_joins_the_one_kling_group_and_reloads_on_its_own() -> None:
    bot = KlingBot(Config())
    try:
        for name in EXTENSIONS:
            await bot.load_extension(name)
        before = await bot.command_schema()
        kling = {o["name"] for o in before[0]["options"]} if before[0]["name"] == "kling" else set()
        assert {"jobs", "remove", "edit", "animate"} <= kling
        await bot.unload_extension("cogs.jobs.cog")
        left = {c.name for c in bot.tree.get_command("kling").commands}
        assert "jobs" not in left and "remove" not in left
        assert {"edit", "mark", "animate"} <= left  # the other features keep theirs
        await bot.load_extension("cogs.jobs.cog")
        await bot.reload_extension("cogs.editing.cog")
        assert await bot.command_schema() == before  # same commands, same order
    finally:
        await bot.close()
        use_api_base(None)


async def test_a_feature_needs_the_bots_kling_group() -> None:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    with pytest.raises(commands.ExtensionFailed, match="no /kling group"):
        await bot.load_extension("cogs.jobs.cog")
