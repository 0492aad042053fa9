"""The poller on its own: poll errors that retrying will not fix, errors it did not expect, the
time limit (from acceptance, to the second, in the member's words) and how often progress is
reported."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

from bot.jobs.schedule import poll_interval
from bot.kling.errors import AuthError, KlingError, ServerError
from bot.kling.models import Task
from bot.storage import Job, JobState
from tests.bot.jobs import test_parts
from tests.bot.jobs.conftest import UnexpectedErrors as ErrorLog
from tests.bot.jobs.fakes import new_job
from tests.bot.jobs.test_parts import CONFIG, Parts

S = JobState
parts = test_parts.parts  # the fixture: each part on its own around a real store
ACCEPTED_AFTER = 100.0  # Kling took this long to accept the job


async def accepted_late(parts: Parts) -> Job:
    """A job Kling accepted ``ACCEPTED_AFTER`` seconds after it was created, still running."""
    parts.kling.polls_needed = 1000
    job = await parts.store.create_job(new_job())
    task = parts.kling._store(job)
    sending = await parts.store.transition_job(job.id, from_states=[S.QUEUED], to=S.SUBMITTING)
    assert sending is not None
    parts.time.now += ACCEPTED_AFTER
    accepted = await parts.store.transition_job(
        job.id,
        from_states=[S.SUBMITTING],
        to=S.SUBMITTED,
        kling_task_id=task.task_id,
        submitted_at=parts.time.now,
    )
    assert accepted is not None and accepted.submitted_at == accepted.created_at + ACCEPTED_AFTER
    return parts.table.remember(accepted)


def script_polls(parts: Parts, *answers: BaseException | None) -> deque[BaseException | None]:
    """The next polls raise these errors in turn (None: Kling answers normally)."""
    script: deque[BaseException | None] = deque(answers)
    real_get = parts.kling.get

    async def get(job: Job) -> Task:
        error = script.popleft() if script else None
        if error is not None:
            raise error
        return await real_get(job)

    parts.kling.get = get  # type: ignore[method-assign]
    return script


async def poll(parts: Parts, job_id: str) -> Job:
    """One poll of the job as the table holds it; the job as stored afterwards."""
    await parts.poller.poll(parts.table[job_id])
    return await parts.stored(job_id)


def denied() -> KlingError:
    return AuthError("token rejected", code=1004)


async def test_poll_errors_retrying_will_not_fix_fail_the_job_at_the_fifth_in_a_row(
    parts: Parts,
) -> None:
    job = await parts.accepted_job()
    limit = CONFIG.max_poll_errors
    script_polls(parts, *[denied()] * limit)
    for tries in range(1, limit):
        parts.time.now += 30
        assert (await poll(parts, job.id)).state is S.SUBMITTED
        assert parts.table.notes(job.id).poll_errors == tries
        assert parts.table.due.next_due() == parts.time.now + poll_interval(CONFIG, tries)
    parts.time.now += 30
    failed = await poll(parts, job.id)
    assert failed.state is S.FAILED and job.id not in parts.table
    assert failed.status_msg == AuthError.default_user_message
    assert [j.id for j in parts.observer.finished] == [job.id]


async def test_poll_errors_retrying_may_fix_never_fail_the_job(parts: Parts) -> None:
    parts.kling.polls_needed = 1000
    job = await parts.accepted_job()
    script_polls(parts, *[ServerError("busy", http_status=503)] * (3 * CONFIG.max_poll_errors))
    for _ in range(3 * CONFIG.max_poll_errors):
        parts.time.now += 30
        assert (await poll(parts, job.id)).state is S.SUBMITTED
    assert parts.table.notes(job.id).poll_errors == 0
    assert job.id in parts.table.due


async def test_a_good_poll_ends_a_run_of_poll_errors(parts: Parts) -> None:
    parts.kling.polls_needed = 1000
    job = await parts.accepted_job()
    almost = CONFIG.max_poll_errors - 1
    script_polls(parts, *[denied()] * almost, None, *[denied()] * almost)
    for _ in range(2 * almost + 1):
        parts.time.now += 30
        assert (await poll(parts, job.id)).state in (S.SUBMITTED, S.PROCESSING)
    assert parts.table.notes(job.id).poll_errors == almost and job.id in parts.table


async def test_an_unexpected_error_in_a_poll_is_counted_and_the_job_polled_again(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    unexpected_errors.expect()
    unexpected_errors.runners.append(SimpleNamespace(stats=parts.stats))  # type: ignore[arg-type]
    parts.kling.polls_needed = 1000
    job = await parts.accepted_job()
    script_polls(parts, KeyError("task_status"))
    assert (await poll(parts, job.id)).state is S.SUBMITTED
    assert parts.stats.unexpected_errors == len(unexpected_errors.records) == 1
    assert parts.table.due.next_due() == parts.time.now + poll_interval(CONFIG, 1)
    parts.time.now += 10
    assert (await poll(parts, job.id)).state is S.PROCESSING  # the next poll goes through


async def test_the_poll_time_limit_runs_from_acceptance_to_the_second(parts: Parts) -> None:
    job = await accepted_late(parts)
    assert job.submitted_at is not None
    parts.time.now = job.created_at + CONFIG.poll_timeout  # an hour since creation only
    assert (await poll(parts, job.id)).state is S.PROCESSING
    parts.time.now = job.submitted_at + CONFIG.poll_timeout - 1
    assert (await poll(parts, job.id)).state is S.PROCESSING
    parts.time.now = job.submitted_at + CONFIG.poll_timeout
    failed = await poll(parts, job.id)
    assert failed.state is S.FAILED and job.id not in parts.table
    assert failed.status_msg == (
        f"Kling did not finish within 60 minutes; the bot stopped waiting "
        f"(Kling task {job.kling_task_id})."
    )


async def test_progress_is_reported_at_most_once_per_interval_since_acceptance(
    parts: Parts,
) -> None:
    job = await accepted_late(parts)
    assert job.submitted_at is not None
    interval = CONFIG.progress_interval
    start = parts.time.now
    for offset in (0.0, interval - 1, interval, 2 * interval - 1, 2 * interval):
        parts.time.now = start + offset
        await poll(parts, job.id)
    reported = [
        (elapsed, at - start) for jid, elapsed, _, at in parts.observer.progress if jid == job.id
    ]
    # Exactly one interval after the last report counts as due; elapsed runs from acceptance.
    assert reported == [(0.0, 0.0), (interval, interval), (2 * interval, 2 * interval)]


async def test_progress_carries_the_estimate_from_jobs_finished_before_a_restart(
    parts: Parts,
) -> None:
    earlier = await parts.accepted_job()
    assert earlier.submitted_at is not None
    parts.time.now += 120
    done = await parts.store.transition_job(
        earlier.id, from_states=[S.SUBMITTED], to=S.DELIVERED, finished_at=parts.time.now
    )
    assert done is not None
    parts.table.forget(earlier.id)
    await parts.poller.load_estimates()  # what the runner does when it starts
    job = await accepted_late(parts)
    await poll(parts, job.id)
    [(_, _, estimate, _)] = [p for p in parts.observer.progress if p[0] == job.id]
    assert estimate == 120.0
