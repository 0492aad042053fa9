"""`/kling-admin usage`: jobs Kling accepted and units it reported, today and this month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.storage import GuildUsage, JobState, MemberUsage, UsageCounts
from cogs.admin.cog import usage_embed
from tests.cogs.admin_harness import (
    NOW,
    BotFactory,
    Clock,
    clock,
    manager_role,
    run_bot,
    seed_job,
)
from tests.discord_twin import DiscordTwin
from tests.discord_twin.model import TwinGuild

__all__ = ["clock", "run_bot"]

MARCH_2 = datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp()
FEB_20 = datetime(2026, 2, 20, 9, tzinfo=UTC).timestamp()
EARLIER_TODAY = NOW - 3600


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def test_usage_counts_only_jobs_kling_accepted_with_their_units(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild, clock: Clock
) -> None:
    admin = discord_twin.member(twin_guild, "ada", roles=[manager_role(discord_twin, twin_guild)])
    alice = discord_twin.member(twin_guild, "alice")
    bob = discord_twin.member(twin_guild, "bob")
    channel = twin_guild.channel("general").id
    where = {"guild": twin_guild.id, "channel": channel}

    async with run_bot() as bot:
        store = bot.store
        # Alice: two accepted today (one still running, no units yet), one earlier this month,
        # one last month, and one Kling never accepted.
        await seed_job(store, clock, user=alice.id, at=EARLIER_TODAY, units=10, **where)
        await seed_job(
            store, clock, user=alice.id, at=NOW - 60, outcome=JobState.PROCESSING, **where
        )
        await seed_job(store, clock, user=alice.id, at=MARCH_2, units=5.5, **where)
        await seed_job(store, clock, user=alice.id, at=FEB_20, units=100, **where)
        await seed_job(
            store,
            clock,
            user=alice.id,
            at=NOW - 30,
            outcome=JobState.CANCELLED,
            reason="refused before sending",
            **where,
        )
        # Bob: accepted today, then failed at Kling; the units Kling charged still count.
        await seed_job(
            store,
            clock,
            user=bob.id,
            at=EARLIER_TODAY,
            outcome=JobState.FAILED,
            units=3,
            reason="content check failed",
            **where,
        )
        # Another server's job is not ours.
        await seed_job(
            store,
            clock,
            user=bob.id,
            at=EARLIER_TODAY,
            units=40,
            guild=twin_guild.id + 1,
            channel=channel,
        )

        reply = await (await admin.slash("kling-admin usage")).response()
        assert reply.ephemeral and reply.visible_to == admin.id
        embed = reply.embeds[0]
        by_name = fields(embed)
        assert by_name["Today"] == "3 jobs · 13 units"
        assert by_name["This month (March 2026)"] == "4 jobs · 18.5 units"
        top = by_name["Top members this month"].splitlines()
        assert top == [
            f"1. <@{alice.id}>: today 2 jobs · 10 units; month 3 jobs · 15.5 units",
            f"2. <@{bob.id}>: today 1 job · 3 units; month 1 job · 3 units",
        ]

        one = await (await admin.slash("kling-admin usage", user=alice)).response()
        alone = fields(one.embeds[0])
        assert one.embeds[0]["title"] == "Kling usage of alice"
        assert alone["Today"] == "2 jobs · 10 units"
        assert alone["This month (March 2026)"] == "3 jobs · 15.5 units"

        # At 00:00 UTC the day starts over; on April 1st, the month does.
        clock.now = datetime(2026, 3, 15, 0, 0, 1, tzinfo=UTC).timestamp()
        reply = await (await admin.slash("kling-admin usage")).response()
        assert fields(reply.embeds[0])["Today"] == "0 jobs · 0 units"
        assert fields(reply.embeds[0])["This month (March 2026)"] == "4 jobs · 18.5 units"
        clock.now = datetime(2026, 4, 1, 8, tzinfo=UTC).timestamp()
        reply = await (await admin.slash("kling-admin usage")).response()
        assert fields(reply.embeds[0])["This month (April 2026)"] == "0 jobs · 0 units"
        assert fields(reply.embeds[0])["Members"] == "No jobs yet this month."


def test_top_members_are_capped_with_a_count_of_the_rest() -> None:
    members = tuple(
        MemberUsage(100 + n, UsageCounts(jobs_month=20 - n, units_month=1.25)) for n in range(12)
    )
    usage = GuildUsage(
        total=UsageCounts(jobs_today=0, jobs_month=174, units_month=15), members=members
    )
    embed = usage_embed(usage, now=NOW).to_dict()
    lines = fields(embed)["Top members this month"].splitlines()
    assert len(lines) == 11
    assert lines[0] == "1. <@100>: today 0 jobs · 0 units; month 20 jobs · 1.25 units"
    assert lines[-1] == "…and 2 more members."
    assert fields(embed)["This month (March 2026)"] == "174 jobs · 15 units"
