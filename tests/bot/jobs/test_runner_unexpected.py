"""A step that keeps raising something unexpected (a "poison" job) is not retried forever: the job
fails after a few tries in a row, or once its own time limit has passed, with a reason naming the
logged error id."""

from __future__ import annotations

import dataclasses
import itertools

from bot.kling.models import Task
from bot.storage import Job, JobState
from tests.bot.jobs.conftest import Rig, UnexpectedErrors
from tests.bot.jobs.fakes import new_job

S = JobState


def poison_polls(rig: Rig) -> list[str]:
    """From now on, every poll answers something the runner cannot read (not a Task)."""
    polled: list[str] = []
    original = rig.kling.get

    async def broken_get(job: Job) -> Task:
        await original(job)
        polled.append(job.id)
        return None  # type: ignore[return-value]  # a bug: the step raises AttributeError

    rig.kling.get = broken_get  # type: ignore[method-assign]
    return polled


async def test_a_poison_job_fails_after_a_few_unexpected_errors_naming_the_error_id(
    rig: Rig, unexpected_errors: UnexpectedErrors
) -> None:
    unexpected_errors.expect()
    polled = poison_polls(rig)
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert rig.store is not None
    failed = await rig.store.get_job(job.id)
    assert failed is not None and failed.status_msg is not None
    tries = rig.config.max_unexpected_errors
    assert len(polled) == tries
    ids = [record.unexpected_error for record in unexpected_errors.records]  # type: ignore[attr-defined]
    assert len(ids) == tries == runner.stats.unexpected_errors
    # The member sees why (the card shows the stored reason) and the id to quote.
    assert failed.status_msg.startswith("Something went wrong on our side")
    assert f"`{ids[-1]}`" in failed.status_msg
    assert [j.id for j in rig.observer.finished] == [job.id]
    assert runner.in_flight == 0
    # The waits grew (30 s, 60 s, ...) instead of hammering Kling every 30 s.
    times = [at for jid, at in rig.kling.gets if jid == job.id]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]


async def test_a_poison_job_fails_once_its_time_limit_has_passed(
    rig: Rig, unexpected_errors: UnexpectedErrors
) -> None:
    unexpected_errors.expect()
    rig.config = dataclasses.replace(rig.config, max_unexpected_errors=1000, poll_timeout=900.0)
    polled = poison_polls(rig)
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.FAILED)
    assert rig.store is not None
    failed = await rig.store.get_job(job.id)
    assert failed is not None and failed.submitted_at is not None
    assert failed.status_msg is not None and "error id" in failed.status_msg
    # Stopped at the first try after the 15 minutes, far below the cap of 1,000 tries.
    assert 2 <= len(polled) < 10
    assert failed.finished_at is not None
    assert failed.finished_at - failed.submitted_at >= 900.0


async def test_a_step_that_recovers_resets_the_count(
    rig: Rig, unexpected_errors: UnexpectedErrors
) -> None:
    """Unexpected errors that do not come in a row never add up to a failure."""
    unexpected_errors.expect()
    rig.config = dataclasses.replace(rig.config, max_unexpected_errors=2)
    rig.kling.polls_needed = 6
    original = rig.kling.get
    calls = 0

    async def every_other_poll_breaks(job: Job) -> Task:
        nonlocal calls
        calls += 1
        task = await original(job)
        return task if calls % 2 == 0 else None  # type: ignore[return-value]

    rig.kling.get = every_other_poll_breaks  # type: ignore[method-assign]
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, S.DELIVERED)
    assert runner.stats.unexpected_errors >= 2
