"""A job in flight survives the bot being killed, and its video is posted exactly once (SPEC §5);
on SQLite and again on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import cogs.core.runtime
from bot.kling.emulator import KlingEmulator, ManualClock
from tests.cogs.delivery_support import (
    bot_config,
    fast_runner,
    job_row,
    kling_bot,
    result_messages,
    seed_animate_job,
    start_bot_process,
    stop_bot_process,
    wait_for_state,
    write_images,
    write_run_config,
)
from tests.database import Database, both_backends
from tests.discord_twin import DiscordTwin, TwinGuild

__all__ = ["both_backends", "fast_runner"]  # the fixtures, imported for pytest


async def finish_task(emulator: KlingEmulator, job_id: str) -> None:
    """Move the emulator's clock until the job's task has succeeded (it renders meanwhile)."""
    task_id = emulator.store.external_ids[job_id]
    async with asyncio.timeout(60):  # the render runs on real time; a busy machine slows it
        while emulator.store.tasks[task_id].status != "succeed":
            emulator.advance(1.0)
            await asyncio.sleep(0.05)


async def test_sigkill_while_processing_then_restart_posts_the_result_once(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, database: Database
) -> None:
    channel = twin_guild.channel("general")
    alice = discord_twin.member(twin_guild, "alice")
    images = write_images(tmp_path / "refs", noisy=False)
    clock = ManualClock()
    async with KlingEmulator(clock=clock, image2video_long_side=320) as emulator:
        config = write_run_config(tmp_path, discord_twin, emulator.base_url, database=database)
        db = database
        job = await seed_animate_job(db, channel, alice.id, images)

        first = await start_bot_process(config, discord_twin)
        try:
            await wait_for_state(db, job.id, {"submitted"})
            emulator.advance(1.0)  # Kling starts working on it
            await wait_for_state(db, job.id, {"processing"})  # the bot's next poll saw that
        finally:
            await stop_bot_process(first, kill=True)
        assert first.returncode == -9
        assert result_messages(channel, job.id) == []

        await finish_task(emulator, job.id)  # Kling finishes while the bot is down
        second = await start_bot_process(config, discord_twin)
        try:
            row = await wait_for_state(db, job.id, {"delivered"})
        finally:
            await stop_bot_process(second)
        tasks_for_job = [t for t in emulator.store.tasks.values() if t.external_task_id == job.id]

    [posted] = result_messages(channel, job.id)
    assert row["result_message_id"] == posted.id
    assert posted.content.startswith(f"<@{alice.id}>") and len(posted.files) == 1
    assert len(tasks_for_job) == 1  # the restart did not create the job at Kling again
    assert job_row(db, job.id)["delivery_attempts"] == 1


async def test_crash_after_posting_before_recording_does_not_post_twice(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    fast_runner: object,
    monkeypatch: pytest.MonkeyPatch,
    database: Database,
) -> None:
    # The hung step would otherwise get the full shutdown grace before it is cut off.
    monkeypatch.setattr(cogs.core.runtime, "STOP_GRACE_SECONDS", 0.2)
    channel = twin_guild.channel("general")
    alice = discord_twin.member(twin_guild, "alice")
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.2, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator, database)
        job = await seed_animate_job(database, channel, alice.id, images)

        async with kling_bot(config, discord_twin) as bot:
            posted = asyncio.Event()

            async def die_before_recording(job_id: str, message_id: int) -> None:
                posted.set()
                await asyncio.Event().wait()  # the process "dies" here: nothing is recorded

            bot.store.mark_delivered = die_before_recording  # type: ignore[method-assign]
            await asyncio.wait_for(posted.wait(), 20)
        # Stopping cancelled the step: the post exists, the database still says delivering.
        assert job_row(database, job.id)["state"] == "delivering"
        assert len(result_messages(channel, job.id)) == 1

        async with kling_bot(config, discord_twin):
            row = await wait_for_state(database, job.id, {"delivered"})

    [message] = result_messages(channel, job.id)
    assert row["result_message_id"] == message.id  # found by its key, not posted again
    assert row["delivery_attempts"] == 2


async def test_edit_this_result_still_works_after_a_restart(
    tmp_path: Path,
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    fast_runner: object,
    database: Database,
) -> None:
    channel = twin_guild.channel("general")
    alice = discord_twin.member(twin_guild, "alice")
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.2, image2video_long_side=1280) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator, database)
        job = await seed_animate_job(database, channel, alice.id, images)
        async with kling_bot(config, discord_twin):
            await wait_for_state(database, job.id, {"delivered"}, timeout=30)
        [posted] = result_messages(channel, job.id)

        async with kling_bot(config, discord_twin) as bot:  # a new process: no view in memory
            handle = await alice.click(posted, "Edit this result")
            reply = await handle.response(timeout=30)
            session = await bot.store.get_active_session(twin_guild.id, channel.id)
    assert "Your editing session is open" in reply.content
    assert session is not None and session.created_by == alice.id
    assert session.video.duration > 4  # the 5 s result is what is being edited now
    board = channel.messages[session.board_message_id or 0]
    assert board.components and board.files  # the new session's board, with its buttons
