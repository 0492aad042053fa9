"""Discord's rules, enforced by the stand-in and observed by an unmodified discord.py bot."""

from __future__ import annotations

import pytest

from tests.discord_twin import DiscordTwin, InteractionFailedError, TwinGuild

from .minibot import MiniBot


async def test_ack_after_three_seconds_fails_with_10062(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    with pytest.raises(InteractionFailedError, match="within 3 seconds"):
        await alice.slash("slow")
    await discord_twin.wait_until(lambda: minibot.http_errors, timeout=30)
    assert [e.code for e in minibot.http_errors] == [10062]
    assert minibot.http_errors[0].status == 404
    assert [v.code for v in discord_twin.take_violations()] == [10062, 10062]
    assert twin_guild.channel("general").visible_messages() == []


async def test_second_acknowledgement_gets_40060(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    handle = await alice.slash("twice")
    assert (await handle.response()).content == "first"
    await discord_twin.wait_until(lambda: minibot.http_errors)
    assert [(e.status, e.code) for e in minibot.http_errors] == [(400, 40060)]
    assert [v.code for v in discord_twin.take_violations()] == [40060]
    assert [m.content for m in twin_guild.channel("general").visible_messages()] == ["first"]


async def test_token_expires_after_15_minutes_with_50027(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    handle = await alice.slash("later")
    assert handle.response_type == 5
    discord_twin.clock.advance(15 * 60 + 1)
    minibot.release.set()
    await discord_twin.wait_until(lambda: minibot.http_errors)
    assert [(e.status, e.code) for e in minibot.http_errors] == [(401, 50027)]
    assert [v.code for v in discord_twin.take_violations()] == [50027]
    general = twin_guild.channel("general")
    assert all(m.loading for m in general.visible_messages())  # still "thinking"


async def test_followup_within_15_minutes_succeeds(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    handle = await alice.slash("later")
    discord_twin.clock.advance(14 * 60)
    minibot.release.set()
    assert (await handle.response()).content == "done at last"
    assert minibot.http_errors == []


async def test_upload_over_the_guild_limit_gets_413_40005(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    await alice.slash("big", mib=10.5)
    await discord_twin.wait_until(lambda: minibot.http_errors)
    assert [(e.status, e.code) for e in minibot.http_errors] == [(413, 40005)]
    discord_twin.set_upload_limit(twin_guild, 25 * 1024 * 1024)
    handle = await alice.slash("big", mib=10.5)
    assert handle.record.payload["attachment_size_limit"] == 25 * 1024 * 1024
    sent = await handle.response()
    assert sent.attachment("big.bin").size == int(10.5 * 1024 * 1024)
    assert len(minibot.http_errors) == 1


async def test_rate_limit_429_is_retried_by_discord_py(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    discord_twin.rate_limits.add(
        r"^/channels/\d+/messages$", method="POST", times=1, retry_after=0.3
    )
    alice = discord_twin.member(twin_guild, "alice")
    await alice.slash("post")
    posted = await twin_guild.channel("general").wait_for_message(
        lambda m: m.content == "posted via bot token"
    )
    assert posted.author.bot and minibot.http_errors == []
    statuses = [
        r.status
        for r in discord_twin.requests
        if r.method == "POST" and r.path.endswith("/messages")
    ]
    assert statuses == [429, 200]


async def test_missing_channel_permission_gets_403_50013(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    general = twin_guild.channel("general")
    discord_twin.deny_bot(general, send_messages=True)
    await discord_twin.wait_until(lambda: not general_perms(minibot, twin_guild).send_messages)
    alice = discord_twin.member(twin_guild, "alice")
    handle = await alice.slash("post")
    # Interaction responses go through the webhook, so they work without send_messages.
    assert (await handle.response()).content == "posting"
    await discord_twin.wait_until(lambda: minibot.http_errors)
    assert [(e.status, e.code) for e in minibot.http_errors] == [(403, 50013)]
    assert [m.content for m in general.visible_messages()] == ["posting"]


def general_perms(bot: MiniBot, guild: TwinGuild):  # type: ignore[no-untyped-def]
    g = bot.get_guild(guild.id)
    assert g is not None and g.me is not None
    channel = g.get_channel(guild.channel("general").id)
    assert channel is not None
    return channel.permissions_for(g.me)
