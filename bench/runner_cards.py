"""bench_runner.py's job cards with a long local queue (``--queued``): the real runner and the
real job-card observer (``cogs.jobs.job_cards``, posting to a stand-in channel that only counts
edits), with an in-process Kling that has one slot and answers 1303 beyond it, so the rest of the
jobs wait in the local queue.

Time moves only when the benchmark moves it (a fake clock; the runner's sleeps never end), so
each step is measured on its own: the refresh of every card once the queue moves after the
progress interval, the submissions while no card is due, and every card refreshed through the
observer with the runner's queue places vs places found by walking the queue (as every edit once
did). The CPU time is this process's (runner and cards together).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.runner_cases import CountingDeliverer
from bot.jobs import JobRunner, RunnerConfig
from bot.kling.errors import ConcurrencyFullError
from bot.kling.models import Task, TaskStatus
from bot.shards import ShardSet
from bot.storage import Job, JobKind, NewJob, Store
from cogs.jobs.job_cards import JobCards


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class OneSlotKling:
    """Kling with one slot: a create while a task runs is refused with 1303 (nothing created)."""

    def __init__(self) -> None:
        self.running: str | None = None
        self.finished: set[str] = set()

    async def create(self, job: Job) -> Task:
        if self.running is not None:
            raise ConcurrencyFullError("parallel task over resource pack limit", code=1303)
        self.running = job.id
        return self._task(job, TaskStatus.SUBMITTED)

    async def get(self, job: Job) -> Task:
        done = job.id in self.finished
        return self._task(job, TaskStatus.FAILED if done else TaskStatus.PROCESSING)

    async def find(self, job: Job) -> Task | None:
        return None

    def finish(self) -> str:
        """The running task ends (failed, so nothing is downloaded): its slot is free."""
        assert self.running is not None
        job_id, self.running = self.running, None
        self.finished.add(job_id)
        return job_id

    @staticmethod
    def _task(job: Job, status: TaskStatus) -> Task:
        return Task(
            task_id="t" + job.id,
            status=status,
            status_msg="stopped",
            external_task_id=job.id,
            videos=(),
            final_unit_deduction=None,
            created_at=None,
            updated_at=None,
        )


class CardChannel:
    """What the job cards use of a Discord channel; every edit is counted, nothing is sent."""

    def __init__(self) -> None:
        self.sent = 0

    def get_partial_message(self, message_id: int) -> CardChannel:
        return self

    async def edit(self, *, content: str, allowed_mentions: Any) -> None:
        assert "Kling job" in content

    async def send(self, content: str, **kwargs: Any) -> Any:
        self.sent += 1
        return type("Sent", (), {"id": 10_000_000 + self.sent})()


class CardClient:
    """What the job cards use of the Discord client."""

    def __init__(self) -> None:
        self.channel = CardChannel()

    def get_partial_messageable(self, channel_id: int, *, guild_id: int | None = None) -> Any:
        return self.channel

    def get_guild(self, guild_id: int) -> None:
        return None


class WalkedQueue:
    """The reference: a card's place found by walking the queue, as every edit once did."""

    def __init__(self, queued: list[Job], runner: JobRunner) -> None:
        self._queued = queued
        self._jobs = {job.id: job for job in queued}
        self._runner = runner

    def queue_position(self, job_id: str) -> int | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        place = 0
        for queued in self._queued:
            if queued.guild_id == job.guild_id:
                place += 1
                if queued.id == job_id:
                    return place
        return None

    def estimate(self, kind: JobKind) -> float | None:
        return self._runner.estimate(kind)


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def forever(delay: float) -> None:
    """The runner's sleep: time moves only when the benchmark moves it."""
    await asyncio.Event().wait()


async def settle(runner: JobRunner, cards: JobCards) -> None:
    """Until the runner has no step running and no card edit is pending."""
    last: tuple[int, int] | None = None
    while True:
        await asyncio.sleep(0.05)
        seen = (cards.edits, len(asyncio.all_tasks()))
        if runner.steps_running == 0 and seen == last:
            return
        last = seen


async def run_cards(args: argparse.Namespace, backend: str, target: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-cards-"))
    clock = FakeClock()
    store = await Store.open(target, clock=clock)
    request = {"prompt": "a slow pan across the harbour", "mode": "std", "duration": 5}
    for _ in range(args.queued):
        await store.create_job(
            NewJob(kind=JobKind.ANIMATE, guild_id=1, channel_id=2, requester_id=3, request=request)
        )
    await store._write_statement("UPDATE jobs SET card_message_id = rowid + 1000")
    kling = OneSlotKling()
    holder: dict[str, Any] = {}
    cards = JobCards(
        CardClient(),
        store=lambda: store,
        runner=lambda: holder.get("view"),  # type: ignore[arg-type]
        clock=clock,
        wall_clock=clock,
        sleep=lambda _: asyncio.sleep(0),
    )
    async with aiohttp.ClientSession() as http:
        runner = JobRunner(
            store,
            kling,
            CountingDeliverer(ShardSet(), args.queued),  # every task fails: none delivered
            media_dir=work / "media",
            http=http,
            observer=cards,
            config=RunnerConfig(),
            clock=clock,
            sleep=forever,
        )
        holder["view"] = runner
        await runner.start()  # the head goes to Kling's slot; every card shows its place
        await settle(runner, cards)
        interval = runner.config.progress_interval

        # The queue moves after the progress interval: every waiting card shows its new place.
        clock.now += interval
        cpu0, edits0 = cpu_seconds(), cards.edits
        runner.poll_soon(kling.finish())
        await settle(runner, cards)
        refresh_cpu, refresh_edits = cpu_seconds() - cpu0, cards.edits - edits0

        # The queue moves again before any card is due: only the moving jobs' cards change.
        rounds = args.submissions
        cpu0, edits0 = cpu_seconds(), cards.edits
        for _ in range(rounds):
            clock.now += interval / (2 * rounds)
            runner.poll_soon(kling.finish())
            await settle(runner, cards)
        submit_cpu, submit_edits = cpu_seconds() - cpu0, cards.edits - edits0

        # Observer-driven refresh of every waiting card: the runner's places vs the walk.
        queued = await store.queued_jobs()
        walked = WalkedQueue(queued, runner)
        sample = random.Random(7).sample(queued, 50)
        assert all(runner.queue_position(j.id) == walked.queue_position(j.id) for j in sample)
        timings = {}
        for name, view in (("runner", runner), ("walk", walked)):
            holder["view"] = view
            clock.now += interval
            cpu0, edits0 = cpu_seconds(), cards.edits
            for job in queued:
                await cards.on_progress(job, 0.0, None)
            await settle(runner, cards)
            timings[name] = (cpu_seconds() - cpu0, cards.edits - edits0)
        holder["view"] = runner
        await runner.stop()
    await cards.close()
    await store.close()
    print(
        f"\njob cards on {backend}: {args.queued} jobs waiting in one server's local queue, "
        "Kling full"
    )
    print(
        f"  the queue moves after the {interval:g} s progress interval: {refresh_cpu:.2f} s CPU "
        f"for {refresh_edits} card edits ({refresh_cpu / max(1, refresh_edits) * 1e6:.0f} µs "
        "per edit, runner and cards together)"
    )
    print(
        f"  the queue moves with no card due: {submit_cpu / rounds * 1000:.2f} ms CPU per "
        f"submission ({submit_edits / rounds:.1f} card edits each: the jobs that moved)"
    )
    (ours, n_ours), (walk, n_walk) = timings["runner"], timings["walk"]
    print(
        f"  refresh of every card through the observer: {ours:.2f} s CPU "
        f"({ours / max(1, n_ours) * 1e6:.0f} µs per edit) vs {walk:.2f} s "
        f"({walk / max(1, n_walk) * 1e6:.0f} µs per edit) when each place is found by walking "
        f"the queue: {ours / walk:.3f}x"
    )
