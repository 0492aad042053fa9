"""The runner's bookkeeping: one step per job at a time, the submission gate, forgetting finished
jobs, adopting what another actor stored (resync), the clean result link, and the last look for
an earlier post before a delivery is given up."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.jobs import JobRunner
from bot.kling.errors import ConcurrencyFullError, ContentPolicyError
from bot.kling.models import Task, TaskStatus, TaskVideo
from bot.storage import Job, JobState
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import RESULT_BYTES, MemoryKling, RecordingDeliverer, new_job

S = JobState


class HeldPolls:
    """Every poll of Kling waits until ``release`` is set; counts polls running at once."""

    def __init__(self, kling: MemoryKling) -> None:
        self._inner = kling.get
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.running = 0
        self.most = 0
        kling.get = self.get  # type: ignore[method-assign]

    async def get(self, job: Job) -> Task:
        self.running += 1
        self.most = max(self.most, self.running)
        self.entered.set()
        try:
            await self.release.wait()
            return await self._inner(job)
        finally:
            self.running -= 1


def mentions(container: Any, ids: set[str]) -> bool:
    try:
        return any(job_id in container for job_id in ids)
    except TypeError:  # a sorted container of (key, job id) tuples
        return any(
            item in ids or (isinstance(item, tuple) and ids.intersection(item))
            for item in container
        )


def holds(runner: JobRunner, job_ids: Iterable[str]) -> list[str]:
    """Where the runner, or a part of it from ``bot.jobs``, still mentions one of ``job_ids``."""
    ids = set(job_ids)
    found: list[str] = []
    seen: set[int] = set()

    def visit(obj: object, path: str) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        for name, value in vars(obj).items():
            where = f"{path}.{name}"
            if type(value).__module__.startswith("bot.jobs") and hasattr(value, "__dict__"):
                visit(value, where)
            if isinstance(value, str) or not hasattr(value, "__contains__"):
                continue
            if mentions(value, ids):
                found.append(where)

    visit(runner, "runner")
    return found


async def _finished(rig: Rig, job_id: str) -> Job:
    await rig.wait_state(job_id, S.DELIVERED, S.FAILED, S.CANCELLED)
    assert rig.store is not None
    job = await rig.store.get_job(job_id)
    assert job is not None
    return job


# -- one step per job ---------------------------------------------------------------------


async def test_a_job_never_has_two_steps_at_once(rig: Rig) -> None:
    rig.kling.polls_needed = 1
    held = HeldPolls(rig.kling)
    runner = await rig.start()
    job = await runner.submit(new_job())
    async with asyncio.timeout(10):
        await held.entered.wait()  # its first poll is in flight (and virtual time stands still)
    before = runner.stats.wakeups
    runner.poll_soon(job.id)  # e.g. Kling's callback arrives while the poll is running

    async def nudge_handled() -> bool:
        return runner.stats.wakeups > before

    await rig.wait_for(nudge_handled)
    # The scheduler saw the job due while its poll ran: it put it off, it did not start a second
    # step (a step is started in the same scheduler turn as it is found due).
    assert runner.steps_running == 1
    held.release.set()
    done = await _finished(rig, job.id)
    assert done.state is S.DELIVERED
    assert held.most == 1
    assert len(rig.kling.gets) == 1
    assert len(rig.deliverer.calls) == 1


# -- the submission gate --------------------------------------------------------------------


@pytest.mark.parametrize("outcome", [TaskStatus.SUCCEEDED, TaskStatus.FAILED])
async def test_a_finished_task_reopens_the_submission_gate_at_once(
    rig: Rig, outcome: TaskStatus
) -> None:
    # After Kling said "full", the next try is 10 minutes away, unless a running task ends first.
    rig.config = dataclasses.replace(rig.config, queue_retry_first=600.0, queue_retry_max=600.0)
    rig.kling.outcome = outcome
    rig.kling.polls_needed = 3
    rig.time.running.clear()  # hold virtual time while the two jobs are set up
    runner = await rig.start()
    first = await runner.submit(new_job())
    await rig.wait_state(first.id, S.SUBMITTED)
    rig.kling.script_create(
        ConcurrencyFullError("parallel task over resource pack limit", code=1303)
    )
    second = await runner.submit(new_job())

    async def refused_and_queued() -> bool:
        return len(rig.kling.creates) == 2 and runner.queue_length() == 1

    await rig.wait_for(refused_and_queued)
    rig.time.running.set()
    await _finished(rig, first.id)
    await _finished(rig, second.id)

    first_finished_at = max(at for job_id, at in rig.kling.gets if job_id == first.id)
    second_creates = [at for job_id, at in rig.kling.creates if job_id == second.id]
    assert len(second_creates) == 2
    refused_at, sent_at = second_creates
    assert sent_at == pytest.approx(first_finished_at)  # the slot was used as soon as it freed
    assert sent_at - refused_at < 60


async def test_without_a_free_slot_the_gate_waits_its_backoff(rig: Rig) -> None:
    rig.config = dataclasses.replace(rig.config, queue_retry_first=600.0, queue_retry_max=600.0)
    rig.kling.script_create(ConcurrencyFullError("full", code=1303))
    runner = await rig.start()
    job = await runner.submit(new_job())
    await _finished(rig, job.id)
    [refused_at, sent_at] = [at for _, at in rig.kling.creates]
    assert sent_at - refused_at == pytest.approx(600.0)


# -- forgetting finished jobs -------------------------------------------------------------


async def test_a_delivered_job_leaves_nothing_behind(rig: Rig) -> None:
    runner = await rig.start()
    job = await runner.submit(new_job())
    assert holds(runner, [job.id])  # tracked while in flight: the check below can fail
    done = await _finished(rig, job.id)
    assert done.state is S.DELIVERED
    await rig.time.quiet()
    assert runner.in_flight == 0
    assert holds(runner, [job.id]) == []


async def test_failed_jobs_are_forgotten_whatever_failed(rig: Rig) -> None:
    rig.config = dataclasses.replace(rig.config, poll_timeout=30 * 60.0, queue_timeout=10 * 60.0)
    rig.kling.script_create(
        ContentPolicyError("risk", code=1301),  # refused at create
        "ok",  # Kling fails the task
    )
    runner = await rig.start()
    refused = await runner.submit(new_job())
    assert (await _finished(rig, refused.id)).state is S.FAILED
    rig.kling.outcome = TaskStatus.FAILED
    failed_at_kling = await runner.submit(new_job())
    assert (await _finished(rig, failed_at_kling.id)).state is S.FAILED
    rig.kling.outcome = TaskStatus.SUCCEEDED
    rig.kling.polls_needed = 10**9
    too_slow = await runner.submit(new_job())  # the poll time limit ends it
    assert (await _finished(rig, too_slow.id)).state is S.FAILED
    rig.kling.script_create(*[ConcurrencyFullError("full", code=1303)] * 1000)
    never_sent = await runner.submit(new_job())  # the queue time limit ends it
    assert (await _finished(rig, never_sent.id)).state is S.FAILED
    await rig.time.quiet()

    ids = [refused.id, failed_at_kling.id, too_slow.id, never_sent.id]
    assert runner.in_flight == 0 and runner.queue_length() == 0
    assert holds(runner, ids) == []
    assert [j.id for j in rig.observer.finished] == ids


async def test_a_cancelled_job_is_forgotten(rig: Rig) -> None:
    rig.kling.script_create(*[ConcurrencyFullError("full", code=1303)] * 2)
    runner = await rig.start()
    head = await runner.submit(new_job())
    waiting = await runner.submit(new_job())
    assert await runner.cancel(waiting.id) is not None
    assert runner.queue_position(waiting.id) is None
    assert holds(runner, [waiting.id]) == []
    assert (await _finished(rig, head.id)).state is S.DELIVERED
    await rig.time.quiet()
    assert holds(runner, [head.id, waiting.id]) == []


# -- resync: another actor moved the job ----------------------------------------------------


async def test_a_job_finished_elsewhere_is_dropped_not_delivered(rig: Rig) -> None:
    rig.kling.polls_needed = 1
    held = HeldPolls(rig.kling)
    runner = await rig.start()
    job = await runner.submit(new_job())
    async with asyncio.timeout(10):
        await held.entered.wait()
    assert rig.store is not None
    # While Kling is being asked, someone else (an admin tool, another process) ends the job.
    stopped = await rig.store.transition_job(
        job.id,
        from_states=[S.SUBMITTED, S.PROCESSING],
        to=S.FAILED,
        status_msg="Stopped by a server admin.",
    )
    assert stopped is not None
    held.release.set()  # Kling now says: succeeded

    async def dropped() -> bool:
        return runner.in_flight == 0

    await rig.wait_for(dropped)
    await rig.time.quiet()
    final = await rig.store.get_job(job.id)
    assert final is not None and final.state is S.FAILED
    assert final.status_msg == "Stopped by a server admin."
    assert rig.deliverer.calls == []
    assert holds(runner, [job.id]) == []


async def test_a_job_moved_on_elsewhere_is_taken_up_from_the_stored_state(rig: Rig) -> None:
    rig.kling.polls_needed = 1
    held = HeldPolls(rig.kling)
    runner = await rig.start()
    job = await runner.submit(new_job())
    async with asyncio.timeout(10):
        await held.entered.wait()
    assert rig.store is not None
    # Another actor (e.g. Kling's callback handled elsewhere) already recorded the success.
    stored_url = rig.results.url("from-the-callback")
    moved = await rig.store.transition_job(
        job.id,
        from_states=[S.SUBMITTED, S.PROCESSING],
        to=S.SUCCEEDED,
        result_url=stored_url,
        finished_at=rig.time.now,
    )
    assert moved is not None
    held.release.set()
    done = await _finished(rig, job.id)
    assert done.state is S.DELIVERED
    assert done.result_url == stored_url
    [(posted_id, _, data)] = rig.deliverer.calls
    assert posted_id == job.id and data == RESULT_BYTES


# -- which link is delivered ----------------------------------------------------------------


def _with_videos(kling: MemoryKling, *videos: TaskVideo) -> None:
    inner = kling.get

    async def get(job: Job) -> Task:
        task = await inner(job)
        if task.status is TaskStatus.SUCCEEDED:
            task = dataclasses.replace(task, videos=videos)
        return task

    kling.get = get  # type: ignore[method-assign]


async def test_the_clean_video_is_preferred_to_the_watermarked_one(rig: Rig) -> None:
    clean, marked = rig.results.url("clean"), rig.results.url("watermarked")
    _with_videos(
        rig.kling, TaskVideo("v1", None, None, 5.0, None), TaskVideo("v2", clean, marked, 5.0, None)
    )
    runner = await rig.start()
    job = await runner.submit(new_job())
    done = await _finished(rig, job.id)
    assert done.state is S.DELIVERED
    assert done.result_url == clean


async def test_a_watermarked_video_is_used_when_it_is_the_only_one(rig: Rig) -> None:
    marked = rig.results.url("watermarked")
    _with_videos(rig.kling, TaskVideo("v1", None, marked, 5.0, None))
    runner = await rig.start()
    job = await runner.submit(new_job())
    done = await _finished(rig, job.id)
    assert done.state is S.DELIVERED
    assert done.result_url == marked


async def test_success_without_any_video_fails_with_a_reason(rig: Rig) -> None:
    _with_videos(rig.kling, TaskVideo("v1", None, None, 5.0, None))
    runner = await rig.start()
    job = await runner.submit(new_job())
    done = await _finished(rig, job.id)
    assert done.state is S.FAILED
    assert done.status_msg == "Kling reported success but sent no video."
    assert done.units == 2.5
    assert rig.deliverer.calls == []
    await rig.time.quiet()
    assert holds(runner, [job.id]) == []


# -- the last look before giving up a delivery --------------------------------------------


class PostedOnTheLastTry(RecordingDeliverer):
    """Discord errors on every post; the last one was stored although its answer was lost."""

    tries_before_the_post: int = 0

    async def deliver(self, job: Job, video: Path | None) -> int:
        if self.tries_before_the_post > 0:
            self.tries_before_the_post -= 1
            self.calls.append((job.id, video, None))
            raise RuntimeError("Discord said 500")
        await super().deliver(job, video)
        raise RuntimeError("connection reset after Discord stored the message")


async def test_the_last_lookup_finds_a_post_made_by_a_failed_attempt(rig: Rig) -> None:
    deliverer = PostedOnTheLastTry()
    deliverer.tries_before_the_post = rig.config.max_delivery_attempts - 1
    rig.deliverer = deliverer
    runner = await rig.start()
    job = await runner.submit(new_job())
    done = await _finished(rig, job.id)
    assert done.state is S.DELIVERED, done.status_msg
    assert len(deliverer.calls) == rig.config.max_delivery_attempts
    assert len(deliverer.posted) == 1
    assert done.result_message_id == deliverer.posted[done.delivery_key or ""]
    # Every retry looked first (attempts 2..5), and the last chance looked once more.
    assert deliverer.finds == [job.id] * rig.config.max_delivery_attempts
    assert [j.state for j in rig.observer.finished] == [S.DELIVERED]
    await rig.time.quiet()
    assert holds(runner, [job.id]) == []


async def test_a_delivery_that_never_posted_fails_after_the_last_lookup(rig: Rig) -> None:
    rig.deliverer.fail_times = 100
    runner = await rig.start()
    job = await runner.submit(new_job())
    done = await _finished(rig, job.id)
    assert done.state is S.FAILED
    assert done.status_msg == "The video is ready but the bot could not post it in this channel."
    assert rig.deliverer.posted == {}
    assert rig.deliverer.finds == [job.id] * rig.config.max_delivery_attempts
    await rig.time.quiet()
    assert holds(runner, [job.id]) == []
