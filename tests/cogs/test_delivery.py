"""Results are posted once, as a new channel message through the bot token (SPEC §5).

A 413 learned from Discord and delivery after the interaction token expired are covered by the
fault matrix, tests/faults/test_discord_faults.py.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bot.kling.emulator import KlingEmulator
from bot.storage import JobState
from tests.cogs.delivery_support import (
    bot_config,
    fast_runner,
    kling_bot,
    result_messages,
    seed_animate_job,
    wait_for_state,
    write_images,
)
from tests.database import Database, both_backends
from tests.discord_twin import DiscordTwin, TwinGuild

__all__ = ["both_backends", "fast_runner"]  # the fixtures, imported for pytest
# Each story runs on SQLite and again on PostgreSQL.


def uploads_rejected(twin: DiscordTwin) -> list[str]:
    return [r.path for r in twin.requests if r.status == 413]


async def test_result_is_a_new_message_mentioning_the_requester_with_video_and_button(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    fast_runner: object,
    database: Database,
) -> None:
    channel = twin_guild.channel("general")
    alice = discord_twin.member(twin_guild, "alice")
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.2, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator, database)
        job = await seed_animate_job(database, channel, alice.id, images)
        started = time.monotonic()
        async with kling_bot(config, discord_twin) as bot:
            row = await wait_for_state(database, job.id, {"delivered"})
            took = time.monotonic() - started
            [posted] = result_messages(channel, job.id)
            stored = await bot.store.get_job(job.id)
    assert stored is not None and stored.state is JobState.DELIVERED
    assert row["result_message_id"] == posted.id
    assert posted.author.id == discord_twin.bot_user.id
    assert posted.interaction_metadata is None and posted.webhook_id is None
    assert posted.content.startswith(f"<@{alice.id}> your result is ready")
    assert "Animate" in posted.content and "slow pan" in posted.content
    [video] = posted.files
    assert video.content_type == "video/mp4" and video.filename.endswith(".mp4")
    assert video.duration_secs is not None and video.duration_secs > 4
    buttons = [c.get("label") for c in posted.components[0]["components"]]
    assert buttons == ["Edit this result"]
    print(f"seeded job to delivered result: {took:.2f} s (emulator stages 0.2 s)")


async def test_a_result_too_large_for_the_channel_is_re_encoded_to_fit(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    fast_runner: object,
    database: Database,
) -> None:
    channel = twin_guild.channel("general")
    alice = discord_twin.member(twin_guild, "alice")
    discord_twin.set_upload_limit(twin_guild, 200_000)
    images = write_images(tmp_path / "refs", noisy=True)
    async with KlingEmulator(seconds_per_stage=0.2, image2video_long_side=640) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator, database)
        job = await seed_animate_job(database, channel, alice.id, images)
        async with kling_bot(config, discord_twin) as bot:
            # Any interaction tells the bot this server's real upload limit.
            await alice.slash("kling status")
            await wait_for_state(database, job.id, {"delivered"}, timeout=30)
            original = Path(str((await bot.store.get_job(job.id)).result_path))  # type: ignore[union-attr]
    [posted] = result_messages(channel, job.id)
    [video] = posted.files
    # The emulator's clip really was too large for the channel.
    assert await asyncio.to_thread(os.path.getsize, original) > 2_000_000
    assert video.size <= 200_000
    assert video.duration_secs is not None and video.duration_secs > 4
    assert "Re-encoded to fit" in posted.content
    assert uploads_rejected(discord_twin) == []


async def test_a_result_that_cannot_fit_is_linked_not_rejected(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    fast_runner: object,
    database: Database,
) -> None:
    channel = twin_guild.channel("general")
    alice = discord_twin.member(twin_guild, "alice")
    discord_twin.set_upload_limit(twin_guild, 20_000)  # below any watchable 5 s clip
    images = write_images(tmp_path / "refs", noisy=True)
    async with KlingEmulator(seconds_per_stage=0.2, image2video_long_side=640) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator, database)
        job = await seed_animate_job(database, channel, alice.id, images)
        async with kling_bot(config, discord_twin):
            await alice.slash("kling status")
            row = await wait_for_state(database, job.id, {"delivered"}, timeout=30)
    [posted] = result_messages(channel, job.id)
    assert posted.files == []
    assert str(row["result_url"]) in posted.content
    assert "too large to attach" in posted.content
    assert "keeps its own copy for 30 days" in posted.content
    assert uploads_rejected(discord_twin) == []
