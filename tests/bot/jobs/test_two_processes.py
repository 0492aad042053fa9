"""Two runners sharing one database, as two processes would (SPEC §11): each runs only the jobs
of its own shards, and the claims in the database make sure that no job is ever created, polled
or delivered by both, even when both are configured with the same shards.

Each "process" has its own store (its own connection to the database), its own HTTP session,
Kling client and deliverer, against one Kling emulator that counts the calls it receives. The
tests run on a SQLite file and on a throwaway PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.callbacks import CallbackServer, callback_url
from bot.jobs import JobRunner, KlingTaskBackend, RunnerConfig, animate_request
from bot.kling import KlingClient, make_provider
from bot.kling.emulator import KlingEmulator
from bot.kling.models import Task
from bot.shards import ShardSet, shard_of
from bot.storage import Job, JobKind, JobState, NewJob, Store
from tests.faults.world import (
    ACCESS_KEY,
    FAST_RETRY,
    FAST_RUNNER,
    SECRET_KEY,
    TERMINAL,
    RecordingDeliverer,
    tiny_images,
)

CREATE, GET = "multi-image2video:create", "multi-image2video:get"
CHANNEL, ALICE = 1_100_000_000_000_000_002, 900_000_000_000_001
# Servers on shard 0 and shard 1 of 2 ((guild_id >> 22) % 2).
GUILD_0, GUILD_1 = 1000 << 22 | 12345, 1001 << 22 | 12345
LEASE = 1.0  # a second: a process gone is replaced quickly
RUNNER = replace(FAST_RUNNER, claim_lease=LEASE)


@dataclass
class Process:
    name: str
    store: Store
    http: aiohttp.ClientSession
    runner: JobRunner
    deliverer: RecordingDeliverer
    gets: list[float] = field(default_factory=list)  # when this process polled Kling (monotonic)

    async def halt(self) -> None:
        """What a SIGKILL (or a long stall) leaves: nothing of the runner runs any more, and
        nothing is released."""
        heartbeat = self.runner._heartbeat
        assert heartbeat is not None
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        await self.runner.scheduler.stop()

    def kling_calls(self) -> int:
        stats = self.runner.stats
        return stats.creates + stats.polls + stats.lookups


class TimedBackend(KlingTaskBackend):
    """The production backend, noting when the process polls."""

    def __init__(self, *args: Any, gets: list[float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gets = gets

    async def get(self, job: Job) -> Task:
        self._gets.append(time.monotonic())
        return await super().get(job)


@dataclass
class Pair:
    emulator: KlingEmulator
    where: str | Path
    images: list[Path]
    tmp: Path
    processes: list[Process] = field(default_factory=list)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def process(
        self,
        name: str,
        shards: ShardSet,
        *,
        config: RunnerConfig = RUNNER,
        store: Store | None = None,
        callback_base: str | None = None,
        start: bool = True,
    ) -> Process:
        """A runner as one process would run it (its own store unless one is given)."""
        if store is None:
            store = await Store.open(self.where)
            self._stack.push_async_callback(store.close)
        http = await self._stack.enter_async_context(aiohttp.ClientSession())
        provider = make_provider(
            "kling", base_url=self.emulator.base_url, access_key=ACCESS_KEY, secret_key=SECRET_KEY
        )
        client = KlingClient(http, provider, total_timeout=30.0, retry=FAST_RETRY)
        gets: list[float] = []
        urls = (lambda job: callback_url(callback_base, job.id)) if callback_base else None
        deliverer = RecordingDeliverer()
        runner = JobRunner(
            store,
            TimedBackend(client, callback_url=urls, gets=gets),
            deliverer,
            media_dir=self.tmp / name,
            http=http,
            config=config,
            shards=shards,
            owner=f"test:{name}",
        )
        made = Process(name, store, http, runner, deliverer, gets)
        self.processes.append(made)
        if start:
            await runner.start()
        return made

    async def new_job(self, store: Store, guild_id: int) -> Job:
        """A job stored directly (as a submit in any process would store it)."""
        return await store.create_job(
            NewJob(
                kind=JobKind.ANIMATE,
                guild_id=guild_id,
                channel_id=CHANNEL,
                requester_id=ALICE,
                request=animate_request(prompt="two pictures, panned", image_paths=self.images),
            )
        )

    async def settle(self, store: Store, job_id: str, limit: float = 60.0) -> Job:
        async with asyncio.timeout(limit):
            while True:
                job = await store.get_job(job_id)
                assert job is not None
                if job.state in TERMINAL:
                    return job
                await asyncio.sleep(0.02)

    async def settle_state(self, store: Store, job_id: str, *states: JobState) -> None:
        async with asyncio.timeout(60):
            while (job := await store.get_job(job_id)) is None or job.state not in states:
                assert job is None or job.state not in TERMINAL, job.state
                await asyncio.sleep(0.02)

    async def stop_all(self) -> None:
        """A clean stop of every process still running: after it, nothing more can happen."""
        for process in self.processes:
            if process.runner.scheduler.running:
                await process.runner.stop()

    def posted(self) -> list[tuple[str, str]]:
        return [(p.name, job_id) for p in self.processes for job_id, _ in p.deliverer.posted]


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "bot.sqlite3"


@pytest.fixture
async def pair(where: str | Path, tmp_path: Path) -> AsyncIterator[Pair]:
    emulator = KlingEmulator(
        work_dir=tmp_path / "emulator",
        seconds_per_stage=0.0,
        image2video_long_side=160,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
    )
    async with emulator:
        made = Pair(emulator, where, tiny_images(tmp_path / "refs"), tmp_path)
        async with made._stack:
            try:
                yield made
            finally:
                await made.stop_all()


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


def await_new(pair: Pair, guild_id: int) -> NewJob:
    return NewJob(
        kind=JobKind.ANIMATE,
        guild_id=guild_id,
        channel_id=CHANNEL,
        requester_id=ALICE,
        request=animate_request(prompt="two pictures, panned", image_paths=pair.images),
    )


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
