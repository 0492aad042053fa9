"""The submitter on its own: lookups after a create whose outcome is unknown, a create that
raises something unexpected, and the queue's time limit to the second."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from bot.kling.errors import CreateOutcomeUnknownError
from bot.kling.models import Task, TaskStatus
from bot.storage import Job, JobState
from tests.bot.jobs import test_parts
from tests.bot.jobs.conftest import UnexpectedErrors as ErrorLog
from tests.bot.jobs.fakes import new_job
from tests.bot.jobs.test_parts import CONFIG, Parts

S = JobState
parts = test_parts.parts  # the fixture: each part on its own around a real store


async def sending(parts: Parts, job: Job) -> Job:
    moved = await parts.store.transition_job(job.id, from_states=[S.QUEUED], to=S.SUBMITTING)
    assert moved is not None
    return parts.table.remember(moved)


async def test_a_job_kling_never_shows_is_resent_until_the_attempts_run_out(
    parts: Parts,
) -> None:
    job = await parts.store.create_job(new_job())
    tries = CONFIG.max_submit_attempts
    for _ in range(tries - 1):
        job = await sending(parts, job)
        await parts.submitter.reconcile(job)  # not at Kling: certainly not created
        job = await parts.stored(job.id)
        assert job.state is S.QUEUED and job.id in parts.table.queue
    job = await sending(parts, job)
    await parts.submitter.reconcile(job)
    failed = await parts.stored(job.id)
    assert failed.state is S.FAILED and job.id not in parts.table
    assert failed.status_msg == f"Kling did not take the job after {tries} tries."
    assert parts.kling.finds == [job.id] * tries and parts.kling.creates == []


async def test_a_job_whose_id_kling_has_taken_is_looked_up_again_not_resent(
    parts: Parts,
) -> None:
    job = await sending(parts, await parts.store.create_job(new_job()))
    parts.table.notes(job.id).id_taken = True
    await parts.submitter.reconcile(job)
    assert (await parts.stored(job.id)).state is S.SUBMITTING
    assert job.id not in parts.table.queue
    assert parts.table.due.next_due() == parts.time.now + CONFIG.reconcile_first
    assert parts.table.notes(job.id).absent_after_send == 0


async def test_a_create_that_raises_something_unexpected_is_looked_up_before_any_resend(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    unexpected_errors.expect()
    unexpected_errors.runners.append(SimpleNamespace(stats=parts.stats))  # type: ignore[arg-type]

    async def broken_create(job: Job) -> None:
        raise KeyError("data")  # e.g. an answer the client could not read

    parts.kling.create = broken_create  # type: ignore[method-assign,assignment]
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.table.dequeue(job.id)
    await parts.submitter.submit(job.id)
    assert (await parts.stored(job.id)).state is S.SUBMITTING  # not failed, not requeued
    assert parts.stats.unexpected_errors == len(unexpected_errors.records) == 1
    assert parts.table.due.next_due() == parts.time.now + CONFIG.reconcile_first
    assert parts.gate.is_open(parts.time.now)


async def test_a_queued_job_expires_at_its_time_limit_to_the_second(parts: Parts) -> None:
    job = await parts.store.create_job(new_job())
    other = await parts.store.create_job(new_job())
    for queued in (job, other):
        parts.recorder.queue(queued)
    parts.time.now += 100  # the card was posted later: the limit still runs from creation
    carded = await parts.store.update_job(job.id, card_message_id=5)
    assert carded is not None and carded.updated_at == job.created_at + 100
    job = parts.table.remember(carded)
    expires_at = job.created_at + CONFIG.queue_timeout
    parts.time.now = expires_at - 1
    # Due a second early (an error retry moved its entry): popped as the scheduler does.
    parts.table.due.schedule(job.id, parts.time.now)
    assert parts.table.due.pop_due(parts.time.now) == [job.id]
    await parts.submitter.expire_queued(job)
    assert (await parts.stored(job.id)).state is S.QUEUED
    assert parts.table.queue.position(job.id) == 1  # kept its place ahead of the other
    assert parts.table.due.pop_due(expires_at - 0.5) == []  # its expiry is still coming,
    parts.time.now = expires_at  # at the hour
    assert job.id in parts.table.due.pop_due(parts.time.now)
    await parts.submitter.expire_queued(job)
    failed = await parts.stored(job.id)
    assert failed.state is S.FAILED and job.id not in parts.table
    assert failed.status_msg == (
        "Kling stayed busy for 60 minutes; the job was not sent and nothing was charged."
    )


async def test_a_task_kling_is_already_running_is_taken_up_as_processing_with_its_units(
    parts: Parts,
) -> None:
    real_create = parts.kling.create

    async def running_at_once(job: Job) -> Task:
        task = await real_create(job)
        return dataclasses.replace(task, status=TaskStatus.PROCESSING, final_unit_deduction=1.5)

    parts.kling.create = running_at_once  # type: ignore[method-assign]
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.table.dequeue(job.id)
    await parts.submitter.submit(job.id)
    accepted = await parts.stored(job.id)
    assert accepted.state is S.PROCESSING and accepted.units == 1.5
    assert parts.observer.states_of(job.id) == [S.SUBMITTING, S.PROCESSING]


async def test_a_found_task_ends_the_lookup_backoff(parts: Parts) -> None:
    parts.kling.script_create(
        ("store-then-raise", CreateOutcomeUnknownError("timeout", external_task_id="x"))
    )
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.table.dequeue(job.id)
    await parts.submitter.submit(job.id)
    assert parts.table.notes(job.id).lookup_failures == 1
    parts.time.now += CONFIG.reconcile_first
    await parts.submitter.reconcile(parts.table[job.id])
    assert (await parts.stored(job.id)).state is S.SUBMITTED
    assert parts.table.notes(job.id).lookup_failures == 0


async def test_when_the_queue_moves_waiting_jobs_hear_their_wait_and_the_estimate(
    parts: Parts,
) -> None:
    first = await parts.store.create_job(new_job())
    waiting = await parts.store.create_job(new_job())
    for job in (first, waiting):
        parts.recorder.queue(job)
    parts.poller.estimates[waiting.kind] = 77.0
    parts.time.now += 50
    parts.table.dequeue(first.id)
    await parts.submitter.submit(first.id)
    heard = [
        (elapsed, estimate)
        for jid, elapsed, estimate, _ in parts.observer.progress
        if jid == waiting.id
    ]
    assert heard == [(50.0, 77.0)]
    assert parts.table.notes(waiting.id).last_progress == parts.time.now


async def test_a_lookup_that_raises_something_unexpected_is_tried_again_later(
    parts: Parts, unexpected_errors: ErrorLog
) -> None:
    unexpected_errors.expect()
    unexpected_errors.runners.append(SimpleNamespace(stats=parts.stats))  # type: ignore[arg-type]

    async def broken_find(job: Job) -> None:
        raise KeyError("data")

    parts.kling.find = broken_find  # type: ignore[method-assign,assignment]
    job = await sending(parts, await parts.store.create_job(new_job()))
    await parts.submitter.reconcile(job)
    assert (await parts.stored(job.id)).state is S.SUBMITTING and job.id in parts.table
    assert parts.stats.unexpected_errors == len(unexpected_errors.records) == 1
    assert parts.table.due.next_due() == parts.time.now + CONFIG.reconcile_first


async def test_a_job_cancelled_before_its_turn_is_dropped_unsent(parts: Parts) -> None:
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.table.dequeue(job.id)
    assert await parts.store.cancel_job(job.id) is not None
    await parts.submitter.submit(job.id)
    assert parts.kling.creates == [] and job.id not in parts.table


async def test_a_job_ended_elsewhere_while_its_create_was_out_is_dropped(parts: Parts) -> None:
    real_create = parts.kling.create

    async def cancelled_meanwhile(job: Job) -> Task:
        # Another actor (an admin, another process) ended the job meanwhile.
        ended = await parts.store.transition_job(job.id, from_states=[S.SUBMITTING], to=S.CANCELLED)
        assert ended is not None
        return await real_create(job)

    parts.kling.create = cancelled_meanwhile  # type: ignore[method-assign]
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.table.dequeue(job.id)
    await parts.submitter.submit(job.id)
    assert (await parts.stored(job.id)).state is S.CANCELLED
    assert job.id not in parts.table and job.id not in parts.table.due
