"""The runner's exact waits and sentences: retry timings of deliveries and lookups, the reasons a
member reads, the event log of an ending, and the scheduler's heap."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest

from bot.jobs import PostLookupUndecided
from bot.jobs.schedule import DueHeap
from bot.kling.errors import ConcurrencyFullError, CreateOutcomeUnknownError, NetworkError
from bot.kling.models import TaskStatus
from bot.storage import Job, JobKind, JobState, Store
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import RecordingDeliverer, new_job

S = JobState


class TimedDeliverer(RecordingDeliverer):
    """Records when each post and each lookup happened (virtual time)."""

    clock: Any = None
    posts_at: list[float]
    finds_at: list[float]
    undecided: int = 0

    async def deliver(self, job: Job, video: Path | None) -> int:
        self.posts_at.append(self.clock())
        return await super().deliver(job, video)

    async def find_delivery(self, job: Job) -> int | None:
        self.finds_at.append(self.clock())
        if self.undecided > 0:
            self.undecided -= 1
            raise PostLookupUndecided("the search stopped before the newest message")
        return await super().find_delivery(job)


def timed(rig: Rig) -> TimedDeliverer:
    deliverer = TimedDeliverer()
    deliverer.clock = rig.time
    deliverer.posts_at = []
    deliverer.finds_at = []
    rig.deliverer = deliverer
    return deliverer


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


# -- delivery timings ---------------------------------------------------------------------


async def test_failed_posts_are_retried_after_10_20_40_80_seconds(rig: Rig) -> None:
    deliverer = timed(rig)
    deliverer.fail_times = 4
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert gaps(deliverer.posts_at) == [10.0, 20.0, 40.0, 80.0]


async def test_post_retries_wait_at_most_ten_minutes(rig: Rig) -> None:
    rig.config = dataclasses.replace(rig.config, delivery_retry_first=400.0)
    deliverer = timed(rig)
    deliverer.fail_times = 3
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert gaps(deliverer.posts_at) == [400.0, 600.0, 600.0]


async def test_an_undecided_lookup_is_asked_again_after_growing_waits(rig: Rig) -> None:
    deliverer = timed(rig)
    deliverer.fail_times = 1  # the first post fails, so the second attempt must look first
    deliverer.undecided = 3
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    # Post fails; 10 s later the lookup cannot decide, then 10, 20, 40 s between lookups.
    assert gaps(deliverer.finds_at) == [10.0, 20.0, 40.0]
    assert deliverer.finds_at[0] - deliverer.posts_at[0] == pytest.approx(10.0)
    assert len(deliverer.posts_at) == 2  # posted only once the lookup said "not there"
    assert len(deliverer.posted) == 1


async def test_a_job_delivered_elsewhere_during_the_last_try_is_dropped(rig: Rig) -> None:
    rig.config = dataclasses.replace(rig.config, max_delivery_attempts=1)

    class RecordedElsewhere(RecordingDeliverer):
        store: Store | None = None

        async def deliver(self, job: Job, video: Path | None) -> int:
            # Another actor records the delivery; this post then errors.
            assert self.store is not None
            await self.store.mark_delivered(job.id, 4242)
            raise RuntimeError("Discord said 500")

    deliverer = RecordedElsewhere()
    rig.deliverer = deliverer
    runner = await rig.start()
    deliverer.store = rig.store
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)

    async def dropped() -> bool:
        return runner.in_flight == 0

    await rig.wait_for(dropped)
    await rig.time.quiet()
    done = await rig.job(job.id)
    assert done.result_message_id == 4242
    assert deliverer.finds == []  # the database already said how it ended
    assert not any(
        job.id in value
        for value in vars(runner).values()
        if hasattr(value, "__contains__") and not isinstance(value, str)
    )


# -- reasons a member reads ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_msg", "reason"),
    [
        (None, "Kling did not say why the task failed."),
        ("  \n\t ", "Kling did not say why the task failed."),
        (" risk\n control ", "risk control"),
        ("x" * 300, "x" * 300),
        ("x" * 301, "x" * 299 + "…"),
    ],
)
async def test_kling_s_reason_as_the_member_reads_it(
    rig: Rig, status_msg: str | None, reason: str
) -> None:
    rig.kling.outcome = TaskStatus.FAILED
    rig.kling.status_msg = status_msg
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert (await rig.job(job.id)).status_msg == reason


async def test_queue_timeout_sentence(rig: Rig) -> None:
    rig.kling.script_create(*[ConcurrencyFullError("full", code=1303)] * 1000)
    rig.config = dataclasses.replace(rig.config, queue_timeout=15 * 60.0)
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    failed = await rig.job(job.id)
    assert failed.status_msg == (
        "Kling stayed busy for 15 minutes; the job was not sent and nothing was charged."
    )
    assert failed.finished_at is not None
    assert failed.finished_at - failed.created_at == pytest.approx(15 * 60.0)


async def test_lost_contact_while_submitting_fails_at_the_time_limit(rig: Rig) -> None:
    # The create's outcome is unknown and every lookup fails: look at 5, 15 and 35 s, then stop.
    rig.config = dataclasses.replace(rig.config, poll_timeout=35.0)
    rig.kling.script_create(CreateOutcomeUnknownError("timeout", external_task_id="x"))
    finds_at: list[float] = []

    async def unreachable(job: Job) -> None:
        finds_at.append(rig.time.now)
        raise NetworkError("connection reset")

    rig.kling.find = unreachable  # type: ignore[method-assign,assignment]
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    failed = await rig.job(job.id)
    assert failed.status_msg == (
        "The bot lost contact with Kling while submitting; the job may still run at Kling"
        f" under id {job.id}."
    )
    [(_, sent_at)] = rig.kling.creates
    assert [round(at - sent_at, 6) for at in finds_at] == [5.0, 15.0, 35.0]
    assert runner.in_flight == 0


async def test_a_failed_lookup_is_retried_and_the_task_adopted(rig: Rig) -> None:
    rig.kling.script_create(
        ("store-then-raise", CreateOutcomeUnknownError("timeout", external_task_id="x"))
    )
    original = rig.kling.find
    failures = 2

    async def flaky(job: Job) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise NetworkError("connection reset")
        return await original(job)

    rig.kling.find = flaky  # type: ignore[method-assign]
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert len(rig.kling.creates) == 1  # never resent
    assert len(rig.deliverer.posted) == 1


async def test_cancel_without_a_reason_says_so(rig: Rig) -> None:
    rig.kling.script_create(*[ConcurrencyFullError("full", code=1303)] * 2)
    runner = await rig.start()
    head = await runner.submit(new_job())
    waiting = await runner.submit(new_job())
    cancelled = await runner.cancel(waiting.id)
    assert cancelled is not None and cancelled.status_msg == "Cancelled before it was sent."
    assert rig.observer.states_of(waiting.id)[-1] is S.CANCELLED
    await rig.wait_state(head.id, S.DELIVERED)


# -- small public parts -------------------------------------------------------------------


async def test_poll_soon_ignores_jobs_it_cannot_poll(rig: Rig) -> None:
    runner = await rig.start()
    runner.poll_soon("no-such-job")  # a callback for a job this runner does not hold
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    runner.poll_soon(job.id)  # a late callback for a finished job
    await rig.time.quiet()
    assert len(rig.kling.gets) == rig.kling.polls_needed


async def test_estimate_per_kind(rig: Rig) -> None:
    runner = await rig.start()
    assert runner.estimate(JobKind.EDIT_REMOVAL) is None
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    done = await rig.job(job.id)
    assert done.finished_at is not None and done.submitted_at is not None
    assert runner.estimate(JobKind.EDIT_REMOVAL) == pytest.approx(
        done.finished_at - done.submitted_at
    )
    assert runner.estimate(JobKind.ANIMATE) is None


def test_due_heap_keeps_one_entry_per_job_through_compaction() -> None:
    heap = DueHeap()
    for round_ in range(100):  # enough superseded entries to force several compactions
        for n in range(5):
            heap.schedule(f"job-{n}", 1000.0 - round_ - n)
    assert len(heap) == 5
    assert "job-3" in heap and "job-9" not in heap
    heap.discard("job-3")
    assert "job-3" not in heap
    assert heap.next_due() == pytest.approx(1000.0 - 99 - 4)
    assert heap.pop_due(1000.0 - 99 - 2) == ["job-4", "job-2"]
    assert heap.pop_due(10_000.0) == ["job-1", "job-0"]
    assert len(heap) == 0 and heap.next_due() is None


# -- the event log and the observer hear every ending ---------------------------------------


async def test_failure_and_requeue_are_written_in_the_event_log(rig: Rig) -> None:
    rig.kling.script_create(ConcurrencyFullError("full", code=1303))
    rig.kling.outcome = TaskStatus.FAILED
    rig.kling.status_msg = "risk control"
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert rig.store is not None
    events = await rig.store.list_job_events(job.id)
    assert [(e.to_state, e.detail) for e in events if e.to_state in (S.QUEUED, S.FAILED)] == [
        (S.QUEUED, None),
        (S.QUEUED, "requeued"),
        (S.FAILED, "risk control"),
    ]
    assert rig.observer.states_of(job.id)[-1] is S.FAILED
    assert [j.state for j in rig.observer.finished] == [S.FAILED]
