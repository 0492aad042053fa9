"""Two runners sharing one database, as two processes would (SPEC §11): each runs only the jobs
of its own shards, and the claims in the database make sure that no job is ever created, polled
or delivered by both, even when both are configured with the same shards and start at once.

On a SQLite file and on a throwaway PostgreSQL database (two_processes_support).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.shards import ShardSet, shard_of
from bot.storage import JobState, Store
from tests.bot.jobs.two_processes_support import (
    CREATE,
    GUILD_0,
    GUILD_1,
    RUNNER,
    Pair,
    await_new,
    pair,
    where,
)

__all__ = ["pair", "where"]  # fixtures pytest finds here by name


def test_the_two_servers_are_on_different_shards() -> None:
    assert (shard_of(GUILD_0, 2), shard_of(GUILD_1, 2)) == (0, 1)


async def test_same_shards_one_job_is_created_once_and_delivered_once(pair: Pair) -> None:
    """Two processes misconfigured with the same shards start at once with one job waiting."""
    setup = await Store.open(pair.where)
    try:
        job = await pair.new_job(setup, GUILD_0)
    finally:
        await setup.close()
    one, two = await asyncio.gather(
        pair.process("one", ShardSet(), start=False), pair.process("two", ShardSet(), start=False)
    )
    await asyncio.gather(one.runner.start(), two.runner.start())
    done = await pair.settle(one.store, job.id)
    await pair.stop_all()
    assert done.state is JobState.DELIVERED, done.status_msg
    assert pair.emulator.faults.calls[CREATE] == 1
    assert [t.external_task_id for t in pair.emulator.store.tasks.values()] == [job.id]
    assert len(pair.posted()) == 1 and pair.posted()[0][1] == job.id
    # The process that did not hold the job never called Kling for it.
    assert sorted(p.kling_calls() == 0 for p in (one, two)) == [False, True]


async def test_same_shards_both_told_of_a_new_job_create_it_once(pair: Pair) -> None:
    """Both running; the job reaches both local queues at the same moment."""
    one = await pair.process("one", ShardSet())
    two = await pair.process("two", ShardSet())
    job = await pair.new_job(one.store, GUILD_1)
    one.runner.enqueue(job)
    two.runner.enqueue(job)
    done = await pair.settle(two.store, job.id)
    await pair.stop_all()
    assert done.state is JobState.DELIVERED, done.status_msg
    assert pair.emulator.faults.calls[CREATE] == 1
    assert len(pair.emulator.store.tasks) == 1
    assert [job_id for _, job_id in pair.posted()] == [job.id]
    assert sorted(p.kling_calls() == 0 for p in (one, two)) == [False, True]


async def test_different_shards_each_process_runs_only_its_own_servers_jobs(pair: Pair) -> None:
    zero = await pair.process("zero", ShardSet(2, (0,)))
    one = await pair.process("one", ShardSet(2, (1,)))
    mine = await zero.runner.submit(await_new(pair, GUILD_0))
    # A job of the other shards submitted here is left to the process that runs that server.
    theirs = await zero.runner.submit(await_new(pair, GUILD_1))
    assert theirs.id not in zero.runner.table
    done = [await pair.settle(zero.store, job.id) for job in (mine, theirs)]
    await pair.stop_all()
    assert [job.state for job in done] == [JobState.DELIVERED, JobState.DELIVERED]
    assert sorted(pair.posted()) == sorted([("zero", mine.id), ("one", theirs.id)])
    assert zero.runner.stats.creates == 1 and one.runner.stats.creates == 1
    assert pair.emulator.faults.calls[CREATE] == 2


async def test_same_shards_a_job_running_at_kling_is_polled_by_one_process_only(
    pair: Pair,
) -> None:
    """A job Kling is working on, resumed by two processes with the same shards at once."""
    parked = replace(RUNNER, poll_first=3600.0, poll_max=3600.0)
    first = await pair.process("first", ShardSet(), config=parked)
    job = await first.runner.submit(await_new(pair, GUILD_0))
    await pair.settle_state(first.store, job.id, JobState.SUBMITTED, JobState.PROCESSING)
    await first.runner.stop()
    one, two = await asyncio.gather(
        pair.process("one", ShardSet(), start=False), pair.process("two", ShardSet(), start=False)
    )
    await asyncio.gather(one.runner.start(), two.runner.start())
    done = await pair.settle(one.store, job.id)
    await pair.stop_all()
    assert done.state is JobState.DELIVERED, done.status_msg
    assert sorted([bool(one.gets), bool(two.gets)]) == [False, True]  # polled by one of them
    assert len(pair.posted()) == 1
    assert pair.emulator.faults.calls[CREATE] == 1
