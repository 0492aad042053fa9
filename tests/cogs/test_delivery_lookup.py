"""After a crash between posting a result and recording it, the next run looks for the post before
posting again. In a busy channel that lookup has to read far: it must find the post however many
messages surround it, and while it cannot decide it must neither post again nor give up."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

import cogs.core.runtime
import cogs.jobs.delivery
from bot.kling.emulator import KlingEmulator
from tests.cogs.delivery_support import (
    bot_config,
    fast_runner,
    job_row,
    kling_bot,
    result_messages,
    seed_animate_job,
    wait_for_state,
    write_images,
)
from tests.discord_twin import DiscordTwin, TwinChannel, TwinGuild

__all__ = ["fast_runner"]  # the fixture, imported for pytest


def chatter(twin: DiscordTwin, guild: TwinGuild, channel: TwinChannel, count: int) -> None:
    members = [twin.member(guild, name) for name in ("carol", "dave")]
    for index in range(count):
        author = members[index % 2].member.user
        twin.create_message(channel, author, content=f"chat {index}")


async def post_then_crash(
    tmp_path: Path,
    twin: DiscordTwin,
    guild: TwinGuild,
    emulator: KlingEmulator,
    *,
    before: int,
    after: int,
) -> tuple[Path, str]:
    """Run the bot until it has posted the result but not recorded it, then stop it ("crash").

    ``before`` messages are posted after the job finished and before the result, ``after``
    messages once the bot is down."""
    channel = guild.channel("general")
    alice = twin.member(guild, "alice")
    images = write_images(tmp_path / "refs", noisy=False)
    config = bot_config(tmp_path, twin, emulator)
    job = await seed_animate_job(config.storage.path, channel, alice.id, images)
    async with kling_bot(config, twin) as bot:
        posted = asyncio.Event()
        real_deliver = bot.runner.deliverer.deliver

        async def chatter_then_deliver(*args: object) -> int:
            chatter(twin, guild, channel, before)  # a busy channel while the video downloads
            return await real_deliver(*args)  # type: ignore[arg-type]

        async def die_before_recording(job_id: str, message_id: int) -> None:
            posted.set()
            await asyncio.Event().wait()  # the process "dies" here: nothing is recorded

        bot.runner.deliverer.deliver = chatter_then_deliver  # type: ignore[method-assign]
        bot.store.mark_delivered = die_before_recording  # type: ignore[method-assign]
        await asyncio.wait_for(posted.wait(), 30)
    assert job_row(config.storage.path, job.id)["state"] == "delivering"
    assert len(result_messages(channel, job.id)) == 1
    chatter(twin, guild, channel, after)
    return config.storage.path, job.id


async def test_the_earlier_post_is_found_behind_more_than_500_messages(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    fast_runner: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cogs.core.runtime, "STOP_GRACE_SECONDS", 0.2)
    channel = twin_guild.channel("general")
    async with KlingEmulator(seconds_per_stage=0.1, image2video_long_side=320) as emulator:
        db, job_id = await post_then_crash(
            tmp_path, discord_twin, twin_guild, emulator, before=600, after=600
        )
        config = bot_config(tmp_path, discord_twin, emulator)
        async with kling_bot(config, discord_twin):
            row = await wait_for_state(db, job_id, {"delivered", "failed"}, timeout=30)
    [message] = result_messages(channel, job_id)  # found, not posted a second time
    assert row["state"] == "delivered" and row["result_message_id"] == message.id


async def test_an_undecided_lookup_neither_posts_again_nor_fails_and_reads_further_next_time(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    fast_runner: object,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(cogs.core.runtime, "STOP_GRACE_SECONDS", 0.2)
    monkeypatch.setattr(cogs.jobs.delivery, "HISTORY_LIMIT", 100)  # the post is 251st: 3 lookups
    channel = twin_guild.channel("general")
    async with KlingEmulator(seconds_per_stage=0.1, image2video_long_side=320) as emulator:
        db, job_id = await post_then_crash(
            tmp_path, discord_twin, twin_guild, emulator, before=250, after=50
        )
        config = bot_config(tmp_path, discord_twin, emulator)
        with caplog.at_level(logging.WARNING, logger="bot.jobs.runner"):
            async with kling_bot(config, discord_twin):
                row = await wait_for_state(db, job_id, {"delivered", "failed"}, timeout=30)
    [message] = result_messages(channel, job_id)
    assert row["state"] == "delivered" and row["result_message_id"] == message.id
    undecided = [r for r in caplog.records if "cannot tell yet whether the result" in r.message]
    assert len(undecided) == 2  # 100, then 200 messages read; 300 reached the post
    assert row["delivery_attempts"] == 4
