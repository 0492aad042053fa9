"""Job cards whose message is gone, or was never posted, are let go (SPEC §5)."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest

from bot.kling.emulator import KlingEmulator
from bot.storage import Store
from cogs.jobs.job_cards import post_job_card
from tests.cogs.delivery_support import (
    bot_config,
    fast_runner,
    kling_bot,
    result_messages,
    seed_animate_job,
    wait_for_state,
    write_images,
)
from tests.discord_twin import DiscordTwin, TwinGuild

__all__ = ["fast_runner"]


def requests_to(twin: DiscordTwin, method: str, channel_id: int, message_id: int) -> list[int]:
    """The statuses of the bot's `method` requests to one message, in order."""
    path = f"/channels/{channel_id}/messages/{message_id}"
    return [r.status for r in twin.requests if r.method == method and r.path == path]


async def test_a_deleted_card_is_not_edited_again_and_the_result_still_arrives(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.3, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        async with kling_bot(config, discord_twin) as bot:
            bot.job_cards.interval = 0.05  # an edit on every state change
            job = await seed_animate_job(config.storage.path, channel, 5, images)
            card_id = await post_job_card(bot, channel.id, job)
            discord_twin.delete_message(channel.messages[card_id])  # a moderator tidied up
            bot.runner.enqueue(job)
            await wait_for_state(config.storage.path, job.id, {"delivered"})
            await discord_twin.wait_until(lambda: not bot.job_cards.tracks(job.id))
            assert len(result_messages(channel, job.id)) == 1
            # Seven states and progress ticks passed: one edit found the card gone, no more.
            assert requests_to(discord_twin, "PATCH", channel.id, card_id) == [404]
            assert bot.job_cards.edits == 0
        store = await Store.open(config.storage.path)
        try:
            stored = await store.get_job(job.id)
        finally:
            await store.close()
        assert stored is not None and stored.card_message_id is None  # nor after a restart
    discord_twin.assert_clean()


async def test_a_card_that_could_not_be_posted_is_forgotten_when_its_job_ends(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.1, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        async with kling_bot(config, discord_twin) as bot:
            bot.job_cards.interval = 0.05
            job = await seed_animate_job(config.storage.path, channel, 5, images)
            bot.runner.enqueue(job)
            with pytest.raises(discord.HTTPException):  # e.g. the channel went away meanwhile
                await post_job_card(bot, channel.id + 1, job)
            await wait_for_state(config.storage.path, job.id, {"delivered"})
            assert len(result_messages(channel, job.id)) == 1
            await discord_twin.wait_until(lambda: not bot.job_cards.tracks(job.id))
    discord_twin.assert_clean()
