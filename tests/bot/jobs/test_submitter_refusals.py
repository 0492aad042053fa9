"""The submitter when Kling refuses a create because the job's external_task_id is taken (an
earlier send of this very job is at Kling, running and charging): the job looks the task up and
adopts it, it is never failed nor sent a third time. Also: what the runner counts, and a job that
another actor moved while Kling was refusing it for being full."""

from __future__ import annotations

from collections.abc import Callable

from bot.kling.errors import ConcurrencyFullError, CreateOutcomeUnknownError, error_for
from bot.kling.models import Task
from bot.storage import Job, JobState
from tests.bot.jobs import test_parts
from tests.bot.jobs.fakes import new_job
from tests.bot.jobs.test_parts import CONFIG, Parts

S = JobState
parts = test_parts.parts  # the fixture: each part on its own around a real store


async def head_of_queue(parts: Parts) -> Job:
    """A new job taken from the head of the local queue, as the scheduler hands it over."""
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.table.dequeue(job.id)
    return job


def lookups_lag(parts: Parts, times: int) -> Callable[[], int]:
    """The next ``times`` lookups by external_task_id find nothing although the task exists;
    returns a counter of all lookups made."""
    real_find = parts.kling.find
    made = 0

    async def lagging(job: Job) -> Task | None:
        nonlocal made
        made += 1
        if made <= times:
            parts.kling.finds.append(job.id)
            return None
        return await real_find(job)

    parts.kling.find = lagging  # type: ignore[method-assign]
    return lambda: made


async def test_a_create_refused_as_a_duplicate_id_is_looked_up_and_adopted(parts: Parts) -> None:
    job = await head_of_queue(parts)
    earlier = parts.kling._store(job)  # an earlier send of this job reached Kling
    parts.kling.script_create(
        error_for(400, 1201, f"external_task_id {job.id} already exists", "req-1")
    )
    lookups = lookups_lag(parts, times=2)
    await parts.submitter.submit(job.id)
    waiting = await parts.stored(job.id)
    assert waiting.state is S.SUBMITTING, waiting.status_msg  # not failed, not requeued
    assert job.id not in parts.table.queue and parts.observer.finished == []
    assert parts.table.notes(job.id).id_taken
    assert parts.table.due.next_due() == parts.time.now + CONFIG.reconcile_first
    assert parts.gate.is_open(parts.time.now)  # a duplicate is not "Kling is full"

    # Kling's lookup lags behind its refusal: the job keeps looking, backing off, never resent.
    for tries in (2, 3):
        parts.time.now += CONFIG.reconcile_first
        await parts.submitter.reconcile(parts.table[job.id])
        assert (await parts.stored(job.id)).state is S.SUBMITTING
        assert job.id not in parts.table.queue
        wait = CONFIG.reconcile_first * 2 ** (tries - 1)
        assert parts.table.due.next_due() == parts.time.now + wait
    parts.time.now += CONFIG.reconcile_first * 4
    await parts.submitter.reconcile(parts.table[job.id])
    adopted = await parts.stored(job.id)
    assert adopted.state is S.SUBMITTED and adopted.kling_task_id == earlier.task_id
    assert len(parts.kling.creates) == 1 and lookups() == 3
    assert parts.observer.states_of(job.id) == [S.SUBMITTING, S.SUBMITTED]


async def test_a_client_that_saw_the_id_refused_makes_the_job_look_until_it_finds_it(
    parts: Parts,
) -> None:
    """The Kling client resent a lost create itself and was told the id is taken: it reports the
    outcome as unknown but known to exist, and the job must not be resent when a lookup lags."""
    parts.kling.script_create(
        ("store-then-raise", CreateOutcomeUnknownError("taken", external_task_id="x",
                                                       known_to_exist=True))
    )  # fmt: skip
    job = await head_of_queue(parts)
    lookups_lag(parts, times=1)
    await parts.submitter.submit(job.id)
    assert parts.table.notes(job.id).id_taken
    parts.time.now += CONFIG.reconcile_first
    await parts.submitter.reconcile(parts.table[job.id])
    assert (await parts.stored(job.id)).state is S.SUBMITTING
    assert parts.table.notes(job.id).absent_after_send == 0
    parts.time.now += 2 * CONFIG.reconcile_first
    await parts.submitter.reconcile(parts.table[job.id])
    assert (await parts.stored(job.id)).state is S.SUBMITTED
    assert len(parts.kling.creates) == 1


async def test_an_unknown_outcome_that_a_lookup_shows_absent_is_sent_again(parts: Parts) -> None:
    """Without a refusal of the id, a lookup that finds nothing proves the create was lost."""
    parts.kling.script_create(CreateOutcomeUnknownError("timeout", external_task_id="x"))
    job = await head_of_queue(parts)
    await parts.submitter.submit(job.id)
    assert not parts.table.notes(job.id).id_taken
    parts.time.now += CONFIG.reconcile_first
    await parts.submitter.reconcile(parts.table[job.id])
    back = await parts.stored(job.id)
    assert back.state is S.QUEUED and parts.table.queue.position(job.id) == 1
    assert parts.table.notes(job.id).absent_after_send == 1


async def test_an_unrelated_bad_parameter_fails_the_job_with_klings_message(
    parts: Parts,
) -> None:
    refusal = error_for(400, 1201, "duration must be 5 or 10", "req-1")
    parts.kling.script_create(refusal)
    job = await head_of_queue(parts)
    await parts.submitter.submit(job.id)
    failed = await parts.stored(job.id)
    assert failed.state is S.FAILED and failed.status_msg == str(refusal.user_message)
    assert job.id not in parts.table and parts.kling.finds == []


async def test_the_runner_counts_its_creates_and_lookups(parts: Parts) -> None:
    parts.kling.script_create(CreateOutcomeUnknownError("timeout", external_task_id="x"))
    job = await head_of_queue(parts)
    await parts.submitter.submit(job.id)  # outcome unknown
    await parts.submitter.reconcile(parts.table[job.id])  # absent: back to the queue
    parts.table.dequeue(job.id)
    await parts.submitter.submit(job.id)  # sent again, accepted
    other = await parts.store.create_job(new_job())
    parts.kling._store(other)  # sent before a restart; its create's answer was never read
    other = await parts.store.transition_job(other.id, from_states=[S.QUEUED], to=S.SUBMITTING)
    assert other is not None
    await parts.submitter.reconcile(parts.table.remember(other))
    assert parts.stats.creates == len(parts.kling.creates) == 2
    assert parts.stats.lookups == len(parts.kling.finds) == 2


async def test_a_job_cancelled_while_kling_said_full_is_dropped_not_queued_again(
    parts: Parts,
) -> None:
    async def full_after_cancel(job: Job) -> Task:
        # The member cancelled meanwhile (in the store, as another actor would).
        ended = await parts.store.transition_job(job.id, from_states=[S.SUBMITTING], to=S.CANCELLED)
        assert ended is not None
        raise ConcurrencyFullError("full", code=1303)

    parts.kling.create = full_after_cancel  # type: ignore[method-assign]
    job = await head_of_queue(parts)
    await parts.submitter.submit(job.id)
    assert (await parts.stored(job.id)).state is S.CANCELLED
    assert job.id not in parts.table and job.id not in parts.table.queue
    assert job.id not in parts.table.due


async def test_a_waiting_job_found_sent_elsewhere_while_cards_are_told_hears_no_wait(
    parts: Parts,
) -> None:
    """While the waiting cards hear their new place (each a Discord edit, awaited in turn),
    another process's send of one of them is taken up here: that card must not then be told it
    is still waiting."""
    first = await parts.store.create_job(new_job())
    waiting = [await parts.store.create_job(new_job()) for _ in range(2)]
    for job in (first, *waiting):
        parts.recorder.queue(job)
    told = parts.observer.on_progress
    sent_elsewhere: list[str] = []

    async def on_progress(job: Job, elapsed: float, estimate: float | None) -> None:
        if not sent_elsewhere:
            other = next(j for j in waiting if j.id != job.id)
            sent = await parts.store.transition_job(
                other.id, from_states=[S.QUEUED], to=S.SUBMITTING
            )
            assert sent is not None
            parts.recorder.adopt(sent)  # as the claim check does when the state moved on
            sent_elsewhere.append(other.id)
        await told(job, elapsed, estimate)

    parts.observer.on_progress = on_progress  # type: ignore[method-assign]
    parts.table.dequeue(first.id)
    await parts.submitter.submit(first.id)
    heard = [job_id for job_id, *_ in parts.observer.progress]
    assert len(heard) == 1 and heard[0] not in sent_elsewhere
    assert parts.table.queue.length() == 1
