"""Edges of job ownership (SPEC §11) an operator would see: how a job taken into the runner
without a claim is claimed or dropped, what the heartbeat renews, claims and drops, and when a
step confirming its claim may act."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.jobs.ownership import Ownership
from bot.jobs.record import Recorder
from bot.jobs.schedule import RunnerConfig
from bot.jobs.table import JobTable
from bot.shards import ShardSet
from bot.storage import JobState, Store
from tests.bot.jobs.fakes import RecordingObserver, VirtualTime, new_job

LEASE = 30.0
ME, OTHER = "test:me", "test:other"


# -- a job taken into the table without a claim (JobRunner.enqueue) -----------------------------


@dataclass
class Parts:
    store: Store
    table: JobTable
    ownership: Ownership
    recorder: Recorder
    time: VirtualTime


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    time = VirtualTime()
    store = await Store.open(tmp_path / "bot.sqlite3", clock=time)
    table = JobTable()
    config = RunnerConfig(claim_lease=LEASE)
    recorder = Recorder(store, table, RecordingObserver(clock=time), config, time)
    made = Ownership(
        store=store, table=table, recorder=recorder, shards=ShardSet(), owner=ME,
        config=config, clock=time,
    )  # fmt: skip
    try:
        yield Parts(store, table, made, recorder, time)
    finally:
        await store.close()


async def test_a_job_taken_without_a_claim_is_claimed_for_a_whole_lease(parts: Parts) -> None:
    job = await parts.store.create_job(new_job())
    parts.table.remember(job)
    await parts.ownership.confirm(job.id)
    assert await parts.store.job_claim(job.id) == (ME, parts.time() + LEASE)
    assert parts.table.lease_left(job.id, parts.time()) == LEASE
    # Held for the whole lease: the next step needs no statement of its own.
    parts.time.now += LEASE / 2 - 1
    await parts.store.claim_job(job.id, owner=OTHER, lease=LEASE)  # refused: still ours
    assert await parts.ownership.hold(job.id)


async def test_a_job_another_process_holds_is_dropped_unless_a_step_runs_for_it(
    parts: Parts,
) -> None:
    first, second = [await parts.store.create_job(new_job()) for _ in range(2)]
    for job in (first, second):
        await parts.store.claim_job(job.id, owner=OTHER, lease=LEASE)
        parts.table.remember(job)
    assert parts.table.take(second.id, "submit") is not None  # a step is running for it
    await parts.ownership.confirm(first.id)
    await parts.ownership.confirm(second.id)
    assert first.id not in parts.table  # no Kling or Discord call of this process for it
    # The running step is left to find out itself (its writes are refused, its next claim
    # fails): dropping its job under it would lose what it is doing.
    assert second.id in parts.table
    for job in (first, second):
        assert (await parts.store.job_claim(job.id))[0] == OTHER


async def test_a_job_already_held_or_dropped_needs_no_new_claim(parts: Parts) -> None:
    """A job this process holds is not claimed again; one it dropped meanwhile is not claimed
    at all (a claim of a job nobody here runs would keep every other process from it)."""
    held, dropped = [await parts.store.create_job(new_job()) for _ in range(2)]
    assert await parts.ownership.claim([held]) == [held]
    parts.time.now += 1
    await parts.ownership.confirm(held.id)
    await parts.ownership.confirm(dropped.id)  # never in the table (forgotten meanwhile)
    assert await parts.store.job_claim(held.id) == (ME, parts.time() - 1 + LEASE)
    assert await parts.store.job_claim(dropped.id) == (None, None)


# -- the heartbeat and the jobs nobody holds ------------------------------------------------------


def count_claim_statements(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The claim statements the store runs from now on (each a round trip to the database)."""
    statements: list[str] = []
    for name in ("claim_jobs", "renew_claims"):
        real = getattr(store, name)

        async def counted(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            statements.append(_name)
            return await _real(*args, **kw)

        monkeypatch.setattr(store, name, counted)
    return statements


async def test_the_heartbeat_renews_the_leases_so_the_next_steps_need_no_statement(
    parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [await parts.store.create_job(new_job()) for _ in range(3)]
    await parts.ownership.claim(jobs)
    parts.time.now += LEASE * 2 / 3  # the heartbeat's time
    statements = count_claim_statements(parts.store, monkeypatch)
    await parts.ownership.renew()
    assert statements == ["renew_claims"]  # one statement for all of them
    assert await parts.store.job_claim(jobs[0].id) == (ME, parts.time() + LEASE)
    parts.time.now += LEASE / 3  # the next steps come before the next heartbeat
    for job in jobs:
        assert await parts.ownership.hold(job.id)
    assert statements == ["renew_claims"]


async def test_the_heartbeat_drops_a_job_another_process_took_over(parts: Parts) -> None:
    """This process stalled past its lease and another took the job: it must not act on the job
    again, nor keep showing it as its own."""
    taken, kept = [await parts.store.create_job(new_job()) for _ in range(2)]
    await parts.ownership.claim([taken, kept])
    parts.time.now += LEASE + 1  # stalled: no heartbeat for a whole lease
    assert await parts.store.claim_job(taken.id, owner=OTHER, lease=LEASE) is not None
    await parts.ownership.renew()
    assert taken.id not in parts.table
    assert kept.id in parts.table
    assert await parts.store.job_claim(kept.id) == (ME, parts.time() + LEASE)
    assert await parts.store.job_claim(taken.id) == (OTHER, parts.time() + LEASE)


async def test_a_job_this_process_claimed_but_lost_track_of_is_taken_up_again(
    parts: Parts,
) -> None:
    """A job claimed under this owner but not in its table (dropped between the claim and the
    table) is found at the next heartbeat, not only once its lease ran out."""
    job = await parts.store.create_job(new_job())
    await parts.store.claim_job(job.id, owner=ME, lease=LEASE)
    found = await parts.ownership.unclaimed()
    assert [j.id for j in found] == [job.id]
    assert job.id in parts.table
    assert parts.table.lease_left(job.id, parts.time()) == LEASE


async def test_a_claim_made_during_the_renewal_keeps_its_later_lease_end(
    parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step claimed the job again while the heartbeat's statement ran (a slow database): the
    newer, later lease end stands, and the steps after it need no statement."""
    job = await parts.store.create_job(new_job())
    await parts.ownership.claim([job])
    parts.time.now += LEASE * 2 / 3
    real_renew = parts.store.renew_claims

    async def slow_renew(**kwargs: Any) -> set[str]:
        renewed = await real_renew(**kwargs)
        parts.time.now += 10  # the statement took a while; meanwhile a step claimed the job
        assert await parts.store.claim_job(job.id, owner=ME, lease=LEASE) is not None
        parts.table.hold(job.id, parts.time() + LEASE)
        return renewed

    monkeypatch.setattr(parts.store, "renew_claims", slow_renew)
    await parts.ownership.renew()
    assert parts.table.lease_end(job.id) == parts.time() + LEASE
    statements = count_claim_statements(parts.store, monkeypatch)
    parts.time.now += LEASE / 2 - 1
    assert await parts.ownership.hold(job.id)
    assert statements == []


async def test_the_heartbeat_claims_the_jobs_queued_without_a_claim(parts: Parts) -> None:
    """Jobs queued here whose first claim did not happen (the database failed at that moment)
    are claimed by the next heartbeat; one another process holds meanwhile is dropped here."""
    held, free, theirs = [await parts.store.create_job(new_job()) for _ in range(3)]
    await parts.ownership.claim([held])
    await parts.store.claim_job(theirs.id, owner=OTHER, lease=LEASE)
    for job in (free, theirs):
        parts.table.remember(job)  # queued, not claimed
    parts.time.now += 1
    await parts.ownership.renew()
    for job in (held, free):
        assert await parts.store.job_claim(job.id) == (ME, parts.time() + LEASE)
        assert parts.table.lease_left(job.id, parts.time()) == LEASE
    assert theirs.id not in parts.table
    assert (await parts.store.job_claim(theirs.id))[0] == OTHER


async def test_a_job_its_step_claimed_while_the_heartbeat_could_not_is_kept(
    parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat's claim of a queued job failed (another process held it), but the other
    let go and the job's own claim succeeded while that statement ran: the job stays here."""
    job = await parts.store.create_job(new_job())
    await parts.store.claim_job(job.id, owner=OTHER, lease=LEASE)
    parts.table.remember(job)
    real_claim_jobs = parts.store.claim_jobs

    async def racing(job_ids: list[str], **kwargs: Any) -> list[Any]:
        claimed = await real_claim_jobs(job_ids, **kwargs)
        monkeypatch.setattr(parts.store, "claim_jobs", real_claim_jobs)
        await parts.store.release_claims(owner=OTHER)  # the other stops cleanly
        await parts.ownership.confirm(job.id)  # meanwhile, the job's own claim
        return claimed

    monkeypatch.setattr(parts.store, "claim_jobs", racing)
    await parts.ownership.renew()
    assert job.id in parts.table
    assert await parts.store.job_claim(job.id) == (ME, parts.time() + LEASE)


# -- a step confirming its claim (Ownership.hold) -------------------------------------------------


async def test_a_step_after_a_late_heartbeat_renews_every_lease_at_once(
    parts: Parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Less than half a lease left (the heartbeat is late): the step renews the claims in the
    database, all of them in one statement, before it calls Kling or Discord."""
    first, second = [await parts.store.create_job(new_job()) for _ in range(2)]
    await parts.ownership.claim([first, second])
    parts.time.now += LEASE / 2 + 1
    statements = count_claim_statements(parts.store, monkeypatch)
    assert parts.table.take(first.id, "submit") is not None
    assert await parts.ownership.hold(first.id)
    assert statements == ["renew_claims"]
    for job in (first, second):
        assert await parts.store.job_claim(job.id) == (ME, parts.time() + LEASE)
        assert parts.table.lease_left(job.id, parts.time()) == LEASE
    assert await parts.ownership.hold(second.id)
    assert statements == ["renew_claims"]


async def test_a_step_whose_job_another_process_took_over_does_not_act(parts: Parts) -> None:
    job = await parts.store.create_job(new_job())
    await parts.ownership.claim([job])
    parts.time.now += LEASE + 1  # stalled past the lease; the other process took the job
    assert await parts.store.claim_job(job.id, owner=OTHER, lease=LEASE) is not None
    assert parts.table.take(job.id, "submit") is not None
    assert not await parts.ownership.hold(job.id)
    assert job.id not in parts.table
    assert (await parts.store.job_claim(job.id))[0] == OTHER


async def test_a_step_whose_job_was_let_go_claims_it_again_and_goes_on(parts: Parts) -> None:
    """The other process had the job for a while but did nothing with it and let it go (a clean
    stop): this process claims it again and its step goes on from the same state."""
    job = await parts.store.create_job(new_job())
    await parts.ownership.claim([job])
    parts.time.now += LEASE + 1
    assert await parts.store.claim_job(job.id, owner=OTHER, lease=LEASE) is not None
    await parts.store.release_claims(owner=OTHER)
    assert parts.table.take(job.id, "submit") is not None
    assert await parts.ownership.hold(job.id)
    assert await parts.store.job_claim(job.id) == (ME, parts.time() + LEASE)
    assert parts.table.lease_left(job.id, parts.time()) == LEASE
    assert parts.table[job.id].state is JobState.QUEUED


async def test_a_step_whose_job_was_moved_on_meanwhile_starts_from_its_stored_state(
    parts: Parts,
) -> None:
    """The other process sent the job to Kling before it let go: this process must not send it
    again; it takes the job up in its stored state instead (the next step: a poll)."""
    job = await parts.store.create_job(new_job())
    await parts.ownership.claim([job])
    parts.recorder.queue(job)
    parts.time.now += LEASE + 1
    assert await parts.store.claim_job(job.id, owner=OTHER, lease=LEASE) is not None
    for to in (JobState.SUBMITTING, JobState.SUBMITTED):
        moved = await parts.store.transition_job(job.id, from_states=list(JobState), to=to)
        assert moved is not None
    await parts.store.release_claims(owner=OTHER)
    assert parts.table.take(job.id, "submit") is not None
    assert not await parts.ownership.hold(job.id)  # the submit step must stop here
    assert parts.table[job.id].state is JobState.SUBMITTED
    assert job.id not in parts.table.queue  # never handed to the submitter again
    assert (await parts.store.job_claim(job.id))[0] == ME


async def test_a_step_whose_job_was_dropped_meanwhile_does_not_act(parts: Parts) -> None:
    """Cancelled (and dropped) while the step waited for the database: nothing more is done."""
    job = await parts.store.create_job(new_job())
    await parts.ownership.claim([job])
    parts.time.now += LEASE + 1
    await parts.store.release_claims(owner=ME)  # let go, then claimed again below
    real_claim = parts.store.claim_job

    async def claim_then_drop(job_id: str, **kwargs: Any) -> Any:
        claimed = await real_claim(job_id, **kwargs)
        parts.table.forget(job_id)
        return claimed

    parts.store.claim_job = claim_then_drop  # type: ignore[method-assign]
    assert not await parts.ownership.hold(job.id)
    assert job.id not in parts.table


async def test_a_step_for_a_job_cancelled_meanwhile_with_a_late_heartbeat_does_not_act(
    parts: Parts,
) -> None:
    """Cancelled while its step waited, and the heartbeat is late: the renewal leaves out the
    ended job, and the step is told not to act even though some of its lease is left."""
    job = await parts.store.create_job(new_job())
    await parts.ownership.claim([job])
    assert await parts.store.cancel_job(job.id) is not None
    parts.time.now += LEASE / 2 + 3  # more than a third of a lease left, less than half
    assert parts.table.take(job.id, "submit") is not None
    assert not await parts.ownership.hold(job.id)
    assert job.id not in parts.table
