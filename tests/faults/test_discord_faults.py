"""Fault matrix, Discord side: 429, 413, 50013, 50027 and 10062 from the stand-in, met by the real
bot while it answers commands and posts results of jobs run by the Kling emulator."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.kling.emulator import KlingEmulator
from tests.cogs.delivery_support import (
    bot_config,
    fast_runner,
    kling_bot,
    result_messages,
    seed_animate_job,
    wait_for_state,
    write_images,
)
from tests.discord_twin import DiscordTwin, InteractionFailedError, TwinGuild
from tests.faults.matrix import record

__all__ = ["fast_runner"]  # the fixture, imported for pytest
CHANNEL_POSTS = r"^/channels/\d+/messages$"
CALLBACKS = r"^/interactions/\d+/[^/]+/callback$"


async def test_429_on_result_post_waits_and_posts_once(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    images = write_images(tmp_path / "refs", noisy=False)
    discord_twin.rate_limits.add(CHANNEL_POSTS, method="POST", times=2, retry_after=0.3)
    async with KlingEmulator(seconds_per_stage=0.0, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        job = await seed_animate_job(config.storage.path, channel, 4242, images)
        async with kling_bot(config, discord_twin):
            await wait_for_state(config.storage.path, job.id, {"delivered"})
        tasks = len(emulator.store.tasks)
    assert len(result_messages(channel, job.id)) == 1 and tasks == 1
    served = len(discord_twin.rate_limits.served)
    assert served == 2
    record(
        "429 ×2",
        "discord: post result",
        "delivered once, after waiting",
        f"POST×{served + 1}",
        tasks,
    )


async def test_429_on_acknowledgement_still_answers(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    discord_twin.rate_limits.add(CALLBACKS, method="POST", times=1, retry_after=0.3)
    async with (
        KlingEmulator(seconds_per_stage=0.0) as emulator,
        kling_bot(bot_config(tmp_path, discord_twin, emulator), discord_twin),
    ):
        reply = await (await alice.slash("kling status")).response()
    assert "no editing session" in reply.content.lower()
    record("429", "discord: interaction ack", f"answered: {reply.content[:60]}", "ack×2", 0)


async def test_413_shrinks_the_result_until_it_fits(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    discord_twin.set_upload_limit(twin_guild, 300_000)
    images = write_images(tmp_path / "refs", noisy=True)
    async with KlingEmulator(seconds_per_stage=0.0, image2video_long_side=640) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        job = await seed_animate_job(config.storage.path, channel, 4242, images)
        async with kling_bot(config, discord_twin):
            await wait_for_state(config.storage.path, job.id, {"delivered"}, timeout=30)
        tasks = len(emulator.store.tasks)
    [posted] = result_messages(channel, job.id)
    rejected = sum(1 for r in discord_twin.requests if r.status == 413)
    assert posted.files[0].size <= 300_000 and "Re-encoded to fit" in posted.content
    assert 1 <= rejected <= 3 and tasks == 1
    record(
        "413",
        "discord: post result",
        "delivered once, re-encoded to fit",
        f"POST×{rejected + 1}",
        tasks,
    )


async def test_50013_missing_permission_fails_the_job_with_a_reason(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    discord_twin.deny_bot(channel, send_messages=True)
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.0, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        job = await seed_animate_job(config.storage.path, channel, 4242, images)
        async with kling_bot(config, discord_twin):
            row = await wait_for_state(
                config.storage.path, job.id, {"failed", "delivered"}, timeout=30
            )
        tasks = len(emulator.store.tasks)
    refused = sum(
        1
        for r in discord_twin.requests
        if r.status == 403 and r.method == "POST" and r.path == f"/channels/{channel.id}/messages"
    )
    assert row["state"] == "failed" and tasks == 1
    assert row["status_msg"] == "The video is ready but the bot could not post it in this channel."
    assert refused >= 2  # tried again (a permission can be granted meanwhile), then gave up
    assert result_messages(channel, job.id) == []
    record(
        "50013", "discord: post result", f"failed: {row['status_msg']}", f"POST×{refused}", tasks
    )


async def test_50027_expired_interaction_token_is_never_used_for_results(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    alice = discord_twin.member(twin_guild, "alice")
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.0, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        async with kling_bot(config, discord_twin) as bot:
            await (await alice.slash("kling status")).response()
            discord_twin.clock.advance(16 * 60)  # the interaction token is dead now
            seen = len(discord_twin.requests)
            job = await seed_animate_job(config.storage.path, channel, alice.id, images)
            bot.runner.enqueue(job)
            await wait_for_state(config.storage.path, job.id, {"delivered"})
        tasks = len(emulator.store.tasks)
    [posted] = result_messages(channel, job.id)
    assert tasks == 1
    assert posted.content.startswith(f"<@{alice.id}>")
    assert posted.interaction_metadata is None and posted.webhook_id is None
    later = discord_twin.requests[seen:]
    assert any(r.method == "POST" and r.path == f"/channels/{channel.id}/messages" for r in later)
    assert [r.path for r in later if r.path.startswith(("/webhooks/", "/interactions/"))] == []
    assert discord_twin.take_violations(50027) == []
    record(
        "50027 (token > 15 min)",
        "discord: post result",
        "delivered once with the bot token",
        "webhook×0",
        tasks,
    )


async def test_10062_late_acknowledgement_is_logged_and_the_bot_carries_on(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    fast_runner: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    alice = discord_twin.member(twin_guild, "alice")
    # A 4 s rate limit on the acknowledgement makes it arrive after Discord's 3 s deadline.
    discord_twin.rate_limits.add(CALLBACKS, method="POST", times=1, retry_after=4.0)
    async with (
        KlingEmulator(seconds_per_stage=0.0) as emulator,
        kling_bot(bot_config(tmp_path, discord_twin, emulator), discord_twin),
    ):
        with pytest.raises(InteractionFailedError):
            await alice.slash("kling status")
        await discord_twin.wait_for_violation(10062, timeout=30)
        await discord_twin.wait_until(
            lambda: any("10062" in r.getMessage() for r in caplog.records), 30
        )
        reply = await (await alice.slash("kling status")).response()
    assert "no editing session" in reply.content.lower()
    assert {v.code for v in discord_twin.take_violations()} == {10062}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    record(
        "10062 (ack after 3 s)",
        "discord: interaction ack",
        "nothing to answer; logged; next command answered",
        "ack×2",
        0,
    )
