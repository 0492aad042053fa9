"""The recorder adopting what the database says when a step finds its view of a job stale
(another actor moved the job): back in the local queue at its place, or due for its next step now,
or forgotten when it ended."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from contextlib import closing
from pathlib import Path

from bot.jobs.record import Recorder
from bot.storage import Job, JobState
from tests.bot.jobs import test_parts
from tests.bot.jobs.fakes import new_job
from tests.bot.jobs.test_parts import CONFIG, Parts

S = JobState
parts = test_parts.parts  # the fixture: each part on its own around a real store


async def moved(parts: Parts, job: Job, *path: JobState) -> Job:
    """Move the job in the database only, as another actor would (the table keeps its view)."""
    for to in path:
        next_job = await parts.store.transition_job(job.id, from_states=[job.state], to=to)
        assert next_job is not None
        job = next_job
    return job


async def test_a_job_another_actor_put_back_in_the_queue_waits_at_its_place(
    parts: Parts,
) -> None:
    job = await parts.store.create_job(new_job())
    later = await parts.store.create_job(new_job())
    parts.recorder.queue(later)
    sending = parts.table.remember(await moved(parts, job, S.SUBMITTING))
    await moved(parts, sending, S.QUEUED)  # requeued elsewhere meanwhile
    parts.time.now += 30
    await parts.recorder.fail(sending, "stale view")  # its compare-and-set finds it moved
    stored = await parts.stored(job.id)
    assert stored.state is S.QUEUED and parts.observer.finished == []
    assert parts.table[job.id].state is S.QUEUED
    assert parts.table.queue.position(job.id) == 1  # ahead of the job created after it
    assert parts.table.queue.position(later.id) == 2
    # Its queue time limit still runs from its creation.
    expires = parts.table.due.pop_due(job.created_at + CONFIG.queue_timeout)
    assert job.id in expires
    assert parts.table.due.pop_due(job.created_at + CONFIG.queue_timeout - 1) == []


async def test_a_job_another_actor_moved_on_is_due_for_its_next_step_now(parts: Parts) -> None:
    job = await parts.accepted_job()
    await moved(parts, job, S.PROCESSING)  # polled elsewhere meanwhile
    parts.time.now += 30
    await parts.recorder.fail(job, "stale view")
    assert (await parts.stored(job.id)).state is S.PROCESSING
    assert parts.table[job.id].state is S.PROCESSING
    assert job.id in parts.table.due and parts.table.due.next_due() == parts.time.now
    assert parts.table.due.pop_due(parts.time.now) == [job.id]
    assert parts.observer.finished == []


async def test_a_job_that_ended_elsewhere_is_forgotten(parts: Parts) -> None:
    job = await parts.accepted_job()
    await moved(parts, job, S.FAILED)
    await parts.recorder.fail(job, "stale view")
    assert job.id not in parts.table and job.id not in parts.table.due
    assert parts.observer.finished == []  # whoever ended it told the member


class HangingObserver:
    """Job cards whose Discord edits never return."""

    async def on_state_change(self, job: Job) -> None:
        await asyncio.Event().wait()

    async def on_progress(self, job: Job, elapsed: float, estimate: float | None) -> None:
        await asyncio.Event().wait()

    async def on_finished(self, job: Job) -> None:
        await asyncio.Event().wait()


async def test_an_observer_that_never_answers_is_given_up_on(parts: Parts) -> None:
    config = dataclasses.replace(CONFIG, observer_time_limit=0.05)
    recorder = Recorder(parts.store, parts.table, HangingObserver(), config, parts.time)
    job = await parts.accepted_job()
    async with asyncio.timeout(5):  # far more than the two 0.05 s limits
        await recorder.fail(job, "Kling failed it")
    assert (await parts.stored(job.id)).state is S.FAILED and job.id not in parts.table


async def test_ending_a_job_this_process_does_not_hold_is_harmless(parts: Parts) -> None:
    """E.g. a member cancels a waiting job that no runner had taken up yet."""
    job = await parts.store.create_job(new_job())
    cancelled = await parts.store.cancel_job(job.id, "Cancelled before it was sent.")
    assert cancelled is not None and job.id not in parts.table
    await parts.recorder.ended(cancelled)
    assert [j.id for j in parts.observer.finished] == [job.id]
    assert parts.observer.states_of(job.id) == [S.CANCELLED]


async def test_a_waiting_job_sent_elsewhere_leaves_the_local_queue(parts: Parts) -> None:
    """Its card must stop showing a place in the queue, and it must never be sent again."""
    job = await parts.store.create_job(new_job())
    parts.recorder.queue(job)
    parts.kling._store(job)
    await moved(parts, job, S.SUBMITTING, S.SUBMITTED)  # another process sent it
    parts.time.now = job.created_at + CONFIG.queue_timeout
    await parts.submitter.expire_queued(parts.table[job.id])  # finds it moved on
    assert (await parts.stored(job.id)).state is S.SUBMITTED
    assert parts.table[job.id].state is S.SUBMITTED
    assert parts.table.queue.position(job.id) is None and parts.table.queue.length() == 0
    assert parts.table.due.pop_due(parts.time.now) == [job.id]  # polled next, not sent


async def test_a_job_whose_row_was_deleted_is_let_go(parts: Parts, tmp_path: Path) -> None:
    """An operator removed the job from the database by hand: the runner stops holding it
    instead of stepping a job that no longer exists."""
    job = await parts.accepted_job()
    parts.table.due.schedule(job.id, parts.time.now + 5)
    with closing(sqlite3.connect(tmp_path / "bot.sqlite3")) as db, db:
        db.execute("PRAGMA foreign_keys = ON")
        assert db.execute("DELETE FROM jobs WHERE id = ?", (job.id,)).rowcount == 1
    assert await parts.store.get_job(job.id) is None
    await parts.recorder.resync(job.id)
    assert job.id not in parts.table and job.id not in parts.table.due
