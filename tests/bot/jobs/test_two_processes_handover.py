"""A job handed from one process to another sharing the database (SPEC §11): a process gone mid
create is replaced once its lease runs out, a clean stop hands its jobs over at once, a callback
reaching the other process wakes the holder, a process that stalled past its lease drops the job
it lost, and a living one keeps its job between polls longer than a lease.

On a SQLite file and on a throwaway PostgreSQL database (two_processes_support).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from bot.callbacks import CallbackServer
from bot.jobs import JobRunner
from bot.shards import ShardSet
from bot.storage import JobState
from tests.bot.jobs.two_processes_support import (
    CREATE,
    GET,
    GUILD_0,
    LEASE,
    RUNNER,
    Pair,
    await_new,
    pair,
    where,
)

__all__ = ["pair", "where"]  # fixtures pytest finds here by name


async def test_a_process_gone_mid_create_is_replaced_and_the_job_is_created_once(
    pair: Pair,
) -> None:
    """The first process dies while Kling handles its create (its claims are never released);
    once its lease runs out, the other process takes the job over, finds the task Kling made,
    and delivers it: one create, one delivery."""
    gone = await pair.process("gone", ShardSet())
    faults = pair.emulator.faults
    faults.stall(CREATE)  # Kling holds the create until released
    job = await gone.runner.submit(await_new(pair, GUILD_0))
    async with asyncio.timeout(30):
        await faults.holding(1)
    # Killed: no clean stop (the claims stay), the connection to Kling is gone.
    await gone.halt()
    await gone.http.close()
    faults.release()  # the create Kling had already received is carried out
    async with asyncio.timeout(30):
        await faults.settled(CREATE)
    assert len(pair.emulator.store.tasks) == 1
    claimed_by, _ = await gone.store.job_claim(job.id)
    assert claimed_by == "test:gone"
    heir = await pair.process("heir", ShardSet())
    done = await pair.settle(heir.store, job.id)
    await pair.stop_all()
    assert done.state is JobState.DELIVERED, done.status_msg
    assert faults.calls[CREATE] == 1 and heir.runner.stats.creates == 0
    assert heir.runner.stats.lookups >= 1  # it looked the job up instead of sending it again
    assert [t.external_task_id for t in pair.emulator.store.tasks.values()] == [job.id]
    assert pair.posted() == [("heir", job.id)]


async def test_a_clean_stop_hands_the_jobs_over_at_once(pair: Pair) -> None:
    """A stopped process releases its claims: another one takes its jobs up at its next
    heartbeat, without waiting for a lease to run out."""
    long = replace(RUNNER, claim_lease=3600.0, poll_first=3600.0, poll_max=3600.0)
    first = await pair.process("first", ShardSet(), config=long)
    job = await first.runner.submit(await_new(pair, GUILD_0))
    await pair.settle_state(first.store, job.id, JobState.SUBMITTED, JobState.PROCESSING)
    await first.runner.stop()
    assert await first.store.job_claim(job.id) == (None, None)
    second = await pair.process("second", ShardSet())  # resumes it at start
    done = await pair.settle(second.store, job.id)
    await pair.stop_all()
    assert done.state is JobState.DELIVERED
    assert pair.posted() == [("second", job.id)]
    assert pair.emulator.faults.calls[CREATE] == 1


async def test_a_callback_reaching_the_other_process_wakes_the_holder(pair: Pair) -> None:
    """Kling calls back the process that does not hold the job; the one that does polls it
    within 2 s (polling itself is slowed to an hour, so only the callback can move the job)."""
    slow = replace(RUNNER, poll_first=3600.0, poll_max=3600.0)
    heard: list[float] = []
    receivers: list[JobRunner] = []

    async def wake(job_id: str) -> None:
        heard.append(time.monotonic())
        await receivers[0].announce(job_id)

    server = CallbackServer(wake, port=0, host="127.0.0.1")
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        holder = await pair.process("holder", ShardSet(2, (0,)), config=slow, callback_base=base)
        # SQLite has no server to carry a notification between processes: there the two
        # runners share one store, as two runners in one process would; PostgreSQL carries it
        # from one connection to the other (NOTIFY).
        shared = holder.store if isinstance(pair.where, Path) else None
        receiver = await pair.process("receiver", ShardSet(2, (1,)), config=slow, store=shared)
        receivers.append(receiver.runner)
        job = await holder.runner.submit(await_new(pair, GUILD_0))
        done = await pair.settle(holder.store, job.id, limit=60.0)
    finally:
        await server.close()
    await pair.stop_all()
    assert done.state is JobState.DELIVERED, done.status_msg
    assert heard, "Kling never called back"
    assert receiver.kling_calls() == 0 and not receiver.deliverer.posted
    assert pair.posted() == [("holder", job.id)]
    # Every poll of the holder followed a callback the other process received, within 2 s.
    assert holder.gets
    for polled in holder.gets:
        before = [at for at in heard if at <= polled]
        assert before and polled - before[-1] < 2.0


async def test_a_process_that_stalled_past_its_lease_forgets_the_job_it_lost(pair: Pair) -> None:
    """Its lease ran out while it stood still and the other process took the job over: when it
    moves again, its next step fails to claim the job, and it drops it without calling Kling."""
    parked = replace(RUNNER, poll_first=3600.0, poll_max=3600.0)
    stalled = await pair.process("stalled", ShardSet(), config=parked)
    job = await stalled.runner.submit(await_new(pair, GUILD_0))
    await pair.settle_state(stalled.store, job.id, JobState.SUBMITTED, JobState.PROCESSING)
    await stalled.halt()  # stands still: no heartbeat, its claim is not released
    calls_before = stalled.kling_calls()
    faults = pair.emulator.faults
    faults.stall(GET)  # the other's first poll waits at Kling: the job stays in flight there
    other = await pair.process("other", ShardSet())
    async with asyncio.timeout(30):  # once the lease ran out, the other takes the job over
        await faults.holding(1)
    assert (await stalled.store.job_claim(job.id))[0] == "test:other"
    stalled.runner.scheduler.start()  # moves again, still believing it holds the job
    stalled.runner.poll_soon(job.id)
    async with asyncio.timeout(30):
        while job.id in stalled.runner.table:  # noqa: ASYNC110 - no event for a dropped job
            await asyncio.sleep(0.02)
    assert stalled.kling_calls() == calls_before
    faults.release()
    done = await pair.settle(other.store, job.id)
    await pair.stop_all()
    assert done.state is JobState.DELIVERED, done.status_msg
    assert pair.posted() == [("other", job.id)]
    assert faults.calls[CREATE] == 1


async def test_a_living_process_keeps_its_job_between_polls_longer_than_a_lease(
    pair: Pair,
) -> None:
    """Polls three leases apart: only the heartbeat keeps the claim meanwhile, and the other
    process (same shards, looking for free jobs three times a lease) never gets the job."""
    sparse = replace(RUNNER, poll_first=3 * LEASE, poll_max=3 * LEASE, poll_growth=1.0)
    holder = await pair.process("holder", ShardSet(), config=sparse)
    job = await holder.runner.submit(await_new(pair, GUILD_0))
    other = await pair.process("other", ShardSet())
    done = await pair.settle(holder.store, job.id)
    await pair.stop_all()
    assert done.state is JobState.DELIVERED, done.status_msg
    assert holder.gets and other.kling_calls() == 0
    assert pair.posted() == [("holder", job.id)]
