"""Each part of the runner on its own, around a real SQLite store and one table of jobs: the
table, the scheduler (with stand-in steps), the submitter, the poller, delivery and the handling
of unexpected errors. No JobRunner is assembled here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from bot.jobs.delivery import Delivery
from bot.jobs.poller import Poller
from bot.jobs.record import Recorder, RunnerStats
from bot.jobs.schedule import RunnerConfig, SubmissionGate
from bot.jobs.scheduler import Scheduler
from bot.jobs.submitter import Submitter
from bot.jobs.table import JobTable
from bot.jobs.unexpected import UnexpectedErrors
from bot.kling.errors import ConcurrencyFullError
from bot.kling.models import TaskStatus
from bot.storage import Job, JobState, Store
from tests.bot.jobs.conftest import UnexpectedErrors as ErrorLog
from tests.bot.jobs.fakes import (
    RESULT_BYTES,
    MemoryKling,
    RecordingDeliverer,
    RecordingObserver,
    ResultServer,
    VirtualTime,
    new_job,
    serve_results,
)

S = JobState
CONFIG = RunnerConfig()


@dataclass
class Parts:
    store: Store
    time: VirtualTime
    table: JobTable
    recorder: Recorder
    observer: RecordingObserver
    kling: MemoryKling
    gate: SubmissionGate
    stats: RunnerStats
    poller: Poller
    submitter: Submitter
    delivery: Delivery
    deliverer: RecordingDeliverer
    results: ResultServer
    woken: list[bool]

    async def stored(self, job_id: str) -> Job:
        job = await self.store.get_job(job_id)
        assert job is not None
        return job

    async def accepted_job(self) -> Job:
        """A job Kling accepted (its task exists at the in-memory Kling), held in the table."""
        job = await self.store.create_job(new_job())
        task = self.kling._store(job)
        moved = await self.store.transition_job(job.id, from_states=[S.QUEUED], to=S.SUBMITTING)
        assert moved is not None
        accepted = await self.store.transition_job(
            job.id,
            from_states=[S.SUBMITTING],
            to=S.SUBMITTED,
            kling_task_id=task.task_id,
            submitted_at=self.time.now,
        )
        assert accepted is not None
        return self.table.remember(accepted)


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    time = VirtualTime()
    store = await Store.open(tmp_path / "bot.sqlite3", clock=time)
    table, stats, woken = JobTable(), RunnerStats(), []
    observer = RecordingObserver(clock=time)
    recorder = Recorder(store, table, observer, CONFIG, time)
    kling = MemoryKling(time)
    gate = SubmissionGate(CONFIG, time, wake=lambda: woken.append(True))
    deliverer = RecordingDeliverer()
    shared = {
        "store": store,
        "table": table,
        "recorder": recorder,
        "config": CONFIG,
        "clock": time,
        "stats": stats,
    }
    poller = Poller(backend=kling, gate=gate, **shared)
    submitter = Submitter(backend=kling, gate=gate, poller=poller, **shared)
    async with aiohttp.ClientSession() as http, serve_results(ResultServer()) as results:
        kling.video_url = results.url()
        delivery = Delivery(deliverer=deliverer, http=http, media_dir=tmp_path / "media", **shared)
        try:
            yield Parts(
                store,
                time,
                table,
                recorder,
                observer,
                kling,
                gate,
                stats,
                poller,
                submitter,
                delivery,
                deliverer,
                results,
                woken,
            )
        finally:
            await store.close()


# -- the table -------------------------------------------------------------------------------


async def test_the_table_gives_a_job_to_one_step_at_a_time(parts: Parts) -> None:
    table = parts.table
    job = await parts.store.create_job(new_job())
    assert table.take(job.id, "poll") is None  # not held by this process
    parts.recorder.queue(job)
    assert table.take(job.id, "submit") == job
    assert table.take(job.id, "poll") is None and table.step_of(job.id) == "submit"
    assert job.id in table.busy_ids
    table.release(job.id)
    assert table.take(job.id, "poll") == job
    table.release(job.id)

    table.notes(job.id).polls = 3
    table.forget(job.id)
    assert job.id not in table and job.id not in table.due and job.id not in table.queue
    assert table.notes(job.id).polls == 0  # the notes went with the job
    table.notes(job.id).polls = 9  # a step that outlived the job does not bring it back
    assert table.notes(job.id).polls == 0


# -- the scheduler ---------------------------------------------------------------------------


async def test_the_scheduler_starts_due_steps_within_their_limits(parts: Parts) -> None:
    table, time = parts.table, parts.time
    config = RunnerConfig(max_concurrent_calls=2)
    started: list[tuple[str, str]] = []
    release, changed = asyncio.Event(), asyncio.Event()
    running = 0
    peak = 0

    async def step(kind: str, job_id: str) -> None:
        nonlocal running, peak
        started.append((kind, job_id))
        changed.set()
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    async def call(job_id: str) -> None:
        await step("call", job_id)

    async def deliver(job_id: str) -> None:
        await step("deliver", job_id)

    async def submit(job_id: str) -> None:
        await step("submit", job_id)

    async def never(delay: float) -> None:
        await asyncio.Event().wait()

    async def crashed(job_id: str, where: str) -> None:
        raise AssertionError(f"{job_id} crashed in {where}")

    gate = SubmissionGate(config, time, wake=lambda: scheduler.wake())
    scheduler = Scheduler(
        table=table,
        gate=gate,
        config=config,
        clock=time,
        sleep=never,
        stats=parts.stats,
        call=call,
        deliver=deliver,
        submit=submit,
        went_well=lambda job_id: None,
        crashed=crashed,
    )
    polling = [await parts.accepted_job() for _ in range(4)]
    done = await parts.accepted_job()
    done = table.remember(await _moved(parts, done, S.SUCCEEDED))
    for job in (*polling, done):
        table.due.schedule(job.id, time.now)
    gate.close()  # Kling is full: the queued job waits
    queued = await parts.store.create_job(new_job())
    parts.recorder.queue(queued)

    async def until_started(count: int) -> None:
        async with asyncio.timeout(5):
            while len(started) < count:
                changed.clear()
                await changed.wait()

    scheduler.start()
    try:
        await until_started(3)
        assert sorted(kind for kind, _ in started) == ["call", "call", "deliver"]
        assert ("deliver", done.id) in started
        assert scheduler.tasks and parts.stats.wakeups >= 1
        gate.open()  # a slot at Kling is free: the head of the queue is sent
        await until_started(4)
        assert started[-1] == ("submit", queued.id) and queued.id not in table.queue
        release.set()
        await until_started(6)
        async with asyncio.timeout(5):
            await asyncio.gather(*scheduler.tasks)
    finally:
        await scheduler.stop()
    assert sorted(job_id for kind, job_id in started if kind == "call") == sorted(
        job.id for job in polling
    )
    assert peak == 2 + 1 + 1  # two calls, one delivery, one submission at most
    assert not any(table.busy(job.id) for job in (*polling, done, queued))


async def _moved(parts: Parts, job: Job, to: JobState) -> Job:
    moved = await parts.store.transition_job(job.id, from_states=[job.state], to=to)
    assert moved is not None
    return moved


# -- the submitter ---------------------------------------------------------------------------


async def test_the_submitter_sends_the_head_and_schedules_its_first_poll(parts: Parts) -> None:
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.table.dequeue(job.id)
    await parts.submitter.submit(job.id)
    stored = await parts.stored(job.id)
    assert stored.state is S.SUBMITTED and stored.kling_task_id is not None
    assert [c[0] for c in parts.kling.creates] == [job.id]
    assert parts.observer.states_of(job.id) == [S.SUBMITTING, S.SUBMITTED]
    assert parts.table.due.next_due() == parts.time.now + CONFIG.poll_first
    assert parts.gate.is_open(parts.time.now) and parts.stats.creates == 1


async def test_the_submitter_puts_a_refused_job_back_and_closes_the_gate(parts: Parts) -> None:
    parts.kling.script_create(ConcurrencyFullError("full", code=1303))
    first = await parts.store.create_job(new_job())
    second = await parts.store.create_job(new_job())
    for job in (first, second):
        parts.recorder.queue(job)
    parts.table.dequeue(first.id)
    await parts.submitter.submit(first.id)
    assert (await parts.stored(first.id)).state is S.QUEUED
    assert parts.table.queue.position(first.id) == 1  # its old place, ahead of the second
    assert parts.table.queue.position(second.id) == 2
    assert not parts.gate.is_open(parts.time.now)
    assert parts.gate.closed_until == parts.time.now + CONFIG.queue_retry_first


# -- the poller ------------------------------------------------------------------------------


async def test_the_poller_polls_until_kling_finishes_then_hands_over(parts: Parts) -> None:
    parts.kling.polls_needed = 2
    job = await parts.accepted_job()
    parts.gate.close()
    await parts.poller.poll(job)
    assert (await parts.stored(job.id)).state is S.PROCESSING
    assert parts.table.due.next_due() == parts.time.now + CONFIG.poll_first * CONFIG.poll_growth
    assert not parts.gate.is_open(parts.time.now)
    parts.time.now += 10
    await parts.poller.poll(parts.table[job.id])
    done = await parts.stored(job.id)
    assert done.state is S.SUCCEEDED and done.result_url == parts.results.url()
    assert parts.table.due.next_due() == parts.time.now  # delivery is due now
    assert parts.gate.is_open(parts.time.now) and parts.woken  # a slot is free again
    assert [p[0] for p in parts.observer.progress] == [job.id]
    assert parts.stats.polls == 2


async def test_the_poller_fails_a_job_with_klings_reason(parts: Parts) -> None:
    parts.kling.polls_needed = 1
    parts.kling.outcome = TaskStatus.FAILED
    parts.kling.status_msg = "Content risk\ncontrol"
    job = await parts.accepted_job()
    await parts.poller.poll(job)
    failed = await parts.stored(job.id)
    assert failed.state is S.FAILED and failed.status_msg == "Content risk control"
    assert job.id not in parts.table
    assert [j.id for j in parts.observer.finished] == [job.id]


# -- delivery --------------------------------------------------------------------------------


async def test_delivery_posts_the_downloaded_result_once(parts: Parts) -> None:
    parts.kling.polls_needed = 1
    job = await parts.accepted_job()
    await parts.poller.poll(job)  # succeeded, due for delivery
    await parts.delivery.deliver(job.id)
    done = await parts.stored(job.id)
    assert done.state is S.DELIVERED and done.delivery_attempts == 1
    [(posted, path, data)] = parts.deliverer.calls
    assert posted == job.id and data == RESULT_BYTES and path is not None
    assert done.result_message_id == parts.deliverer.posted[job.id[:25]]
    assert parts.deliverer.finds == [] and job.id not in parts.table
    await parts.delivery.deliver(job.id)  # not held any more: nothing happens
    assert len(parts.deliverer.calls) == 1 and parts.results.hits == 1


# -- unexpected errors -----------------------------------------------------------------------


async def test_a_crashing_step_is_retried_later_then_fails_naming_the_error(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    unexpected_errors.expect()
    unexpected_errors.runners.append(SimpleNamespace(stats=parts.stats))  # type: ignore[arg-type]
    handler = UnexpectedErrors(
        table=parts.table,
        recorder=parts.recorder,
        delivery=parts.delivery,
        config=CONFIG,
        clock=parts.time,
        stats=parts.stats,
    )
    job = await parts.accepted_job()
    for tries in range(1, CONFIG.max_unexpected_errors):
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            await handler.crashed(job.id, "poll")
        assert parts.table.due.next_due() == parts.time.now + min(600.0, 30.0 * 2 ** (tries - 1))
        assert parts.table.notes(job.id).unexpected == tries
    handler.went_well(job.id)  # a step that went well ends the streak
    assert parts.table.notes(job.id).unexpected == 0
    for _ in range(CONFIG.max_unexpected_errors):
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            await handler.crashed(job.id, "poll")
    failed = await parts.stored(job.id)
    assert failed.state is S.FAILED and job.id not in parts.table
    error_id = unexpected_errors.records[-1].unexpected_error  # type: ignore[attr-defined]
    assert f"`{error_id}`" in (failed.status_msg or "")
    assert parts.stats.unexpected_errors == 2 * CONFIG.max_unexpected_errors - 1
