"""The scheduler on its own, with stand-in steps and a sleep the test controls: a job due while
its step still runs is looked at again a second later (never dropped), a stale entry does not hold
up the jobs due after it, deliveries run as many at once as allowed, and each look is counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.jobs.schedule import RunnerConfig, SubmissionGate
from bot.jobs.scheduler import Scheduler
from bot.storage import Job, JobState
from tests.bot.jobs import test_parts
from tests.bot.jobs.fakes import new_job
from tests.bot.jobs.test_parts import CONFIG, Parts

S = JobState
parts = test_parts.parts  # the fixture: each part on its own around a real store


@dataclass
class Steps:
    """Stand-in steps that record what started and run until the test lets them end."""

    started: list[tuple[str, str]] = field(default_factory=list)
    running: int = 0
    peak: dict[str, int] = field(default_factory=dict)
    finish: asyncio.Event = field(default_factory=asyncio.Event)
    sleeps: list[float] = field(default_factory=list)  # delays the scheduler slept for
    _now_running: dict[str, int] = field(default_factory=dict)

    def step(self, kind: str) -> Callable[[str], object]:
        async def run(job_id: str) -> None:
            self.started.append((kind, job_id))
            self._now_running[kind] = self._now_running.get(kind, 0) + 1
            self.peak[kind] = max(self.peak.get(kind, 0), self._now_running[kind])
            try:
                await self.finish.wait()
            finally:
                self._now_running[kind] -= 1

        run.__name__ = kind
        return run

    async def sleep(self, delay: float) -> None:
        """The scheduler's sleep: noted, and never over by itself (a wake-up ends it)."""
        self.sleeps.append(delay)
        await asyncio.Event().wait()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait for something to happen (the scheduler's loop runs between the checks)."""
        async with asyncio.timeout(5):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.001)


@asynccontextmanager
async def scheduling(
    parts: Parts, config: RunnerConfig | None = None
) -> AsyncIterator[tuple[Scheduler, Steps]]:
    steps = Steps()
    config = config or RunnerConfig()

    async def crashed(job_id: str, where: str) -> None:
        raise AssertionError(f"{job_id} crashed in {where}")

    scheduler = Scheduler(
        table=parts.table,
        gate=SubmissionGate(config, parts.time, wake=lambda: scheduler.wake()),
        config=config,
        clock=parts.time,
        sleep=steps.sleep,
        stats=parts.stats,
        call=steps.step("call"),  # type: ignore[arg-type]
        deliver=steps.step("delivery"),  # type: ignore[arg-type]
        submit=steps.step("submission"),  # type: ignore[arg-type]
        went_well=lambda job_id: None,
        crashed=crashed,
    )
    try:
        yield scheduler, steps
    finally:
        steps.finish.set()
        await scheduler.stop()


async def succeeded_job(parts: Parts) -> Job:
    job = await parts.accepted_job()
    done = await parts.store.transition_job(job.id, from_states=[S.SUBMITTED], to=S.SUCCEEDED)
    assert done is not None
    return parts.table.remember(done)


async def test_a_job_due_while_its_step_runs_is_looked_at_again_a_second_later(
    parts: Parts,
) -> None:
    table, time = parts.table, parts.time
    job = await parts.accepted_job()
    assert table.take(job.id, "poll") is not None  # an earlier step of it is still running
    table.due.schedule(job.id, time.now)
    async with scheduling(parts) as (scheduler, steps):
        scheduler.start()
        await steps.until(lambda: bool(steps.sleeps))
        assert steps.started == []  # never a second step at once
        assert steps.sleeps == [1.0] and job.id in table.due
        assert table.due.next_due() == time.now + 1.0
        table.release(job.id)  # the earlier step ended
        time.now += 1.0
        scheduler.wake()
        await steps.until(lambda: bool(steps.started))
        assert steps.started == [("call", job.id)]


async def test_a_stale_entry_does_not_hold_up_the_jobs_due_after_it(parts: Parts) -> None:
    table, time = parts.table, parts.time
    job = await parts.accepted_job()
    table.due.schedule("forgotten-meanwhile", time.now - 1)  # its job is no longer held
    table.due.schedule(job.id, time.now)
    async with scheduling(parts) as (scheduler, steps):
        scheduler.start()
        await steps.until(lambda: bool(steps.started))
        assert steps.started == [("call", job.id)]


async def test_deliveries_run_as_many_at_once_as_allowed(parts: Parts) -> None:
    config = RunnerConfig(max_concurrent_deliveries=2)
    jobs = [await succeeded_job(parts) for _ in range(3)]
    for job in jobs:
        parts.table.due.schedule(job.id, parts.time.now)
    async with scheduling(parts, config) as (scheduler, steps):
        scheduler.start()
        await steps.until(lambda: len(steps.started) == 2)
        assert steps.peak == {"delivery": 2}
        steps.finish.set()  # the first two end: the third starts
        await steps.until(lambda: len(steps.started) == 3)
    assert [job_id for _, job_id in steps.started] == [job.id for job in jobs]
    assert steps.peak == {"delivery": 2}


async def test_each_look_at_the_heap_is_counted_once(parts: Parts) -> None:
    async with scheduling(parts) as (scheduler, steps):
        scheduler.start()
        await steps.until(lambda: parts.stats.wakeups > 0)
        assert parts.stats.wakeups == 1
        scheduler.wake()
        await steps.until(lambda: parts.stats.wakeups > 1)
        assert parts.stats.wakeups == 2


# -- how long the scheduler sleeps ------------------------------------------------------------


async def test_it_sleeps_exactly_until_the_next_due_step(parts: Parts) -> None:
    job = await parts.accepted_job()
    parts.table.due.schedule(job.id, parts.time.now + 0.25)  # e.g. a callback's poll
    async with scheduling(parts) as (scheduler, steps):
        scheduler.start()
        await steps.until(lambda: bool(steps.sleeps))
        assert steps.sleeps == [0.25]


async def test_a_closed_gate_matters_only_while_jobs_wait(parts: Parts) -> None:
    """With nothing queued, the gate reopening is no reason to wake: it sleeps until the next
    due step instead."""
    job = await parts.accepted_job()
    parts.table.due.schedule(job.id, parts.time.now + 20)
    async with scheduling(parts) as (scheduler, steps):
        scheduler.gate.close()
        assert scheduler.gate.closed_until == parts.time.now + 5.0
        scheduler.start()
        await steps.until(lambda: bool(steps.sleeps))
        assert steps.sleeps == [20.0]


async def test_while_a_job_is_being_sent_the_next_waits_without_spinning(parts: Parts) -> None:
    first = await parts.store.create_job(new_job())
    waiting = await parts.store.create_job(new_job())
    for job in (first, waiting):
        parts.recorder.queue(job)
    async with scheduling(parts) as (scheduler, steps):
        scheduler.start()
        await steps.until(lambda: bool(steps.sleeps))
        assert steps.started == [("submission", first.id)]
        # The gate is open but only one job is sent at a time: the next look is at the
        # waiting job's queue time limit (or sooner, when the send ends and wakes it).
        assert steps.sleeps == [waiting.created_at + CONFIG.queue_timeout - parts.time.now]


async def test_when_the_gate_opens_on_a_job_whose_step_runs_it_does_not_spin(
    parts: Parts,
) -> None:
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    assert parts.table.take(job.id, "expire_queued") is not None  # its expiry check runs
    async with scheduling(parts) as (scheduler, steps):
        scheduler.gate.close()
        parts.time.now = scheduler.gate.closed_until  # the gate's wait ends just now
        scheduler.start()
        await steps.until(lambda: bool(steps.sleeps))
        assert steps.started == []  # it is busy: not sent
        assert steps.sleeps == [job.created_at + CONFIG.queue_timeout - parts.time.now]


# -- stopping --------------------------------------------------------------------------------


@dataclass
class Ending:
    """A step that needs a few turns of the event loop to end once let go (like a database
    write finishing), and notes whether it ended or was cancelled."""

    let_go: asyncio.Event = field(default_factory=asyncio.Event)
    ended: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def poll(self, job_id: str) -> None:
        try:
            await self.let_go.wait()
            for _ in range(20):
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled.append(job_id)
            raise
        self.ended.append(job_id)


async def started_with(parts: Parts, step: Ending) -> tuple[Scheduler, Job]:
    job = await parts.accepted_job()
    parts.table.due.schedule(job.id, parts.time.now)
    steps = Steps()

    async def crashed(job_id: str, where: str) -> None:
        raise AssertionError(f"{job_id} crashed in {where}")

    scheduler = Scheduler(
        table=parts.table, gate=parts.gate, config=CONFIG, clock=parts.time, sleep=steps.sleep,
        stats=parts.stats, call=step.poll, deliver=step.poll, submit=step.poll,
        went_well=lambda job_id: None,
        crashed=crashed,
    )  # fmt: skip
    scheduler.start()
    await steps.until(lambda: parts.table.busy(job.id))
    return scheduler, job


async def test_a_stop_with_a_grace_lets_running_steps_end(parts: Parts) -> None:
    ending = Ending()
    scheduler, job = await started_with(parts, ending)
    ending.let_go.set()
    await scheduler.stop(grace=0.5)  # less than a second is a grace too
    assert ending.ended == [job.id] and ending.cancelled == []
    assert not scheduler.running and not parts.table.busy(job.id)


async def test_a_stop_cancels_steps_that_outlast_the_grace(parts: Parts) -> None:
    ending = Ending()  # never let go
    scheduler, job = await started_with(parts, ending)
    async with asyncio.timeout(5):
        await scheduler.stop(grace=0.05)
    assert ending.cancelled == [job.id] and not scheduler.tasks


async def test_a_stop_without_a_grace_cancels_at_once(parts: Parts) -> None:
    ending = Ending()
    scheduler, job = await started_with(parts, ending)
    ending.let_go.set()  # it would end within a few turns, but no grace was given
    await scheduler.stop()
    assert ending.cancelled == [job.id] and ending.ended == []


async def test_a_stop_with_a_grace_and_nothing_running_returns_at_once(parts: Parts) -> None:
    async with scheduling(parts) as (scheduler, steps):
        scheduler.start()
        await steps.until(lambda: parts.stats.wakeups > 0)
        async with asyncio.timeout(5):
            await scheduler.stop(grace=30.0)
        assert not scheduler.running


async def test_a_stopped_scheduler_can_start_again(parts: Parts) -> None:
    async with scheduling(parts) as (scheduler, steps):
        scheduler.start()
        assert scheduler.running
        await scheduler.stop()
        assert not scheduler.running
        job = await parts.accepted_job()
        parts.table.due.schedule(job.id, parts.time.now)
        scheduler.start()
        await steps.until(lambda: bool(steps.started))
        assert steps.started == [("call", job.id)]


async def test_a_job_being_sent_is_past_its_queue_time_limit(parts: Parts) -> None:
    """Once sent, the hour a job may wait in the queue no longer applies: a slow create at the
    hour mark must not bring the scheduler back to it every second."""
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    polling = await parts.accepted_job()
    later = CONFIG.queue_timeout + 10
    parts.table.due.schedule(polling.id, parts.time.now + later)
    async with scheduling(parts) as (scheduler, steps):
        scheduler.start()
        await steps.until(lambda: bool(steps.sleeps))
        assert steps.started == [("submission", job.id)]
        assert job.id not in parts.table.due
        assert steps.sleeps == [later]
