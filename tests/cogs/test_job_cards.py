"""Job cards: status, elapsed time and estimate, edited in place at most every 10 s (SPEC §5)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.kling.emulator import KlingEmulator
from bot.storage import JobKind, JobState, NewJob
from cogs.jobs.job_cards import JobCards, post_job_card, render_card
from tests.cogs.delivery_support import (
    bot_config,
    fast_runner,
    kling_bot,
    result_messages,
    seed_animate_job,
    wait_for_state,
    write_images,
)
from tests.cogs.job_cards_data import failed_job
from tests.discord_twin import DiscordTwin, TwinGuild, TwinMessage

__all__ = ["fast_runner"]


class VirtualTime:
    """A monotonic clock that moves only when the test says so; sleepers wake on their time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, future))
        await future

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for due, future in list(self._sleepers):
            if due <= self.now and not future.done():
                future.set_result(None)
        self._sleepers = [(due, f) for due, f in self._sleepers if not f.done()]
        await self.quiet()

    async def quiet(self) -> None:
        """Wait until every card flusher has finished or sleeps on this clock again: whatever
        edit is due by now has been made, and no other can be made before time moves."""
        async with asyncio.timeout(30):
            while True:
                flushers = [
                    t
                    for t in asyncio.all_tasks()
                    if t.get_name().startswith("job-card-") and not t.done()
                ]
                if len(flushers) == sum(not f.done() for _, f in self._sleepers):
                    return
                await asyncio.sleep(0.01)


class QueueOf:
    def __init__(self, place: int | None) -> None:
        self.place = place

    def queue_position(self, job_id: str) -> int | None:
        return self.place

    def estimate(self, kind: JobKind) -> float | None:
        return 95.0


def record_edits(twin: DiscordTwin, time: VirtualTime) -> list[tuple[float, TwinMessage, str]]:
    edits: list[tuple[float, TwinMessage, str]] = []
    original = twin.message_updated

    def updated(msg: TwinMessage) -> None:
        original(msg)
        edits.append((time.now, msg, msg.content))

    twin.message_updated = updated  # type: ignore[method-assign]
    return edits


async def test_card_shows_queue_place_then_state_changes_coalesced_into_edits_10_s_apart(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    time = VirtualTime()
    edits = record_edits(discord_twin, time)
    async with KlingEmulator() as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        async with kling_bot(config, discord_twin) as bot:
            await bot.runner.stop()  # this test plays the runner's part itself
            queue = QueueOf(2)
            cards = JobCards(
                bot,
                store=lambda: bot.store,
                runner=lambda: queue,
                clock=time.clock,
                sleep=time.sleep,
            )
            store = bot.store
            job = await store.create_job(
                NewJob(
                    kind=JobKind.EDIT_REMOVAL,
                    guild_id=twin_guild.id,
                    channel_id=channel.id,
                    requester_id=77,
                    request={"prompt": "Delete the red car", "mode": "pro", "duration": "5"},
                )
            )
            card_id = await cards.post(channel.id, job)
            card = channel.messages[card_id]
            first = card.content
            assert (await store.get_job(job.id)).card_message_id == card_id  # type: ignore[union-attr]

            queue.place = None
            for state in (JobState.SUBMITTING, JobState.SUBMITTED, JobState.PROCESSING):
                job = await store.transition_job(job.id, from_states=[job.state], to=state)
                await cards.on_state_change(job)
                await cards.on_progress(job, 3.0, 95.0)
            await time.advance(9.9)
            assert edits == []  # the card was written at 1000 s; not again before 1010 s
            await time.advance(0.1)
            await discord_twin.wait_until(lambda: len(edits) == 1)
            processing = card.content
            for state in (JobState.SUCCEEDED, JobState.DELIVERING):
                job = await store.transition_job(
                    job.id, from_states=[job.state], to=state, units=5.0
                )
                await cards.on_state_change(job)
            job = await store.mark_delivered(job.id, 123)
            await cards.on_state_change(job)
            await cards.on_finished(job)
            await time.advance(5.0)
            assert len(edits) == 1
            await time.advance(5.0)
            await discord_twin.wait_until(lambda: len(edits) == 2)
            await time.advance(60.0)  # nothing left to write

    assert "Remove · pro · 5 s · “Delete the red car”" in first
    assert "Queued (2nd in line)" in first and "usually take about 1 min 35 s" in first
    assert "Processing at Kling" in processing
    assert "✅ Done" in card.content and "Kling charged 5 units." in card.content
    # Eight events, two edits, each 10 s after the previous write to the card.
    assert [t - 1000.0 for t, _, _ in edits] == [10.0, 20.0]


def test_failed_card_says_why_and_what_was_charged() -> None:
    text = render_card(failed_job(units=None, task=True), now=2000.0)
    assert "❌ Failed: the prompt was refused" in text
    assert "Kling has not reported the units charged." in text
    text = render_card(failed_job(units=None, task=False), now=2000.0)
    assert "Nothing was charged." in text
    assert "Elapsed 1 min 40 s" in text


async def test_cards_follow_a_real_job_to_done_and_a_refused_one_to_its_reason(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    alice = discord_twin.member(twin_guild, "alice")
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.3, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        async with kling_bot(config, discord_twin) as bot:
            bot.job_cards.interval = 0.2
            good = await seed_animate_job(config.storage.path, channel, alice.id, images)
            bad = await seed_animate_job(
                config.storage.path, channel, alice.id, images, prompt="something forbidden"
            )
            cards = {}
            for job in (good, bad):
                cards[job.id] = channel.messages[await post_job_card(bot, channel.id, job)]
                bot.runner.enqueue(job)
            await wait_for_state(config.storage.path, good.id, {"delivered"})
            await wait_for_state(config.storage.path, bad.id, {"failed"})
            await discord_twin.wait_until(
                lambda: "Done" in cards[good.id].content and "Failed" in cards[bad.id].content
            )

    done, failed = cards[good.id], cards[bad.id]
    assert len(result_messages(channel, good.id)) == 1
    assert "Kling charged 1 units." in done.content and done.edit_count >= 1
    assert "❌ Failed: Failure to pass the risk control system" in failed.content
    assert result_messages(channel, bad.id) == []
    [ping] = [
        m
        for m in channel.visible_messages()
        if m.message_reference and int(m.message_reference["message_id"]) == failed.id
    ]
    assert ping.content.startswith(f"<@{alice.id}> your Animate")
    assert "refused by content policy" in ping.content


async def test_a_deleted_card_does_not_stop_the_job(
    tmp_path: Path, discord_twin: DiscordTwin, twin_guild: TwinGuild, fast_runner: object
) -> None:
    channel = twin_guild.channel("general")
    images = write_images(tmp_path / "refs", noisy=False)
    async with KlingEmulator(seconds_per_stage=0.3, image2video_long_side=320) as emulator:
        config = bot_config(tmp_path, discord_twin, emulator)
        async with kling_bot(config, discord_twin) as bot:
            bot.job_cards.interval = 0.1
            job = await seed_animate_job(config.storage.path, channel, 5, images)
            card_id = await post_job_card(bot, channel.id, job)
            discord_twin.delete_message(channel.messages[card_id])  # a moderator tidied up
            bot.runner.enqueue(job)
            await wait_for_state(config.storage.path, job.id, {"delivered"})
    assert len(result_messages(channel, job.id)) == 1
