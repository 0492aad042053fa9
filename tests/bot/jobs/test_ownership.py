"""One runner and the claims of other processes: it resumes only the jobs of its shards that no
other live process holds, takes over at once those of a process of this host that is gone, and
leaves nothing claimed when it stops cleanly."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator

from bot.jobs.ownership import gone_from_here, new_owner_id
from bot.shards import ShardSet
from bot.storage import JobState, Store
from tests.bot.jobs.conftest import Rig
from tests.bot.jobs.fakes import new_job

GUILD_0, GUILD_1 = 1000 << 22 | 77, 1001 << 22 | 77  # shards 0 and 1 of 2
HOUR = 3600.0


@contextlib.asynccontextmanager
async def stored(rig: Rig) -> AsyncIterator[Store]:
    """The database as another process (or an operator) sees it, the runner not running."""
    store = await Store.open(rig.db_path, clock=rig.time)
    try:
        yield store
    finally:
        await store.close()


def finished_pid() -> int:
    """The pid of a process that has run and exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_a_process_of_this_host_that_no_longer_runs_is_gone() -> None:
    me = new_owner_id()
    host, pid, _ = me.split(":")
    assert int(pid) == os.getpid()
    assert gone_from_here(f"{host}:{finished_pid()}:0a0a0a0a", me)
    assert gone_from_here(f"{host}:{pid}:0b0b0b0b", me)  # this pid's earlier process
    assert not gone_from_here(me, me)
    # Alive: a child of this test (never the test's parent, which a wrong signal would hit).
    # Asking about it must not signal it: it still answers afterwards (a signal sent before
    # is acted on before its read returns).
    echo = "import sys; print(sys.stdin.readline(), end='', flush=True)"
    with subprocess.Popen(
        [sys.executable, "-c", echo], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as alive:
        assert alive.stdin is not None and alive.stdout is not None
        assert not gone_from_here(f"{host}:{alive.pid}:0c0c0c0c", me)
        alive.stdin.write("still here\n")
        alive.stdin.flush()
        assert alive.stdout.readline() == "still here\n"
    assert not gone_from_here(f"elsewhere:{finished_pid()}:0d0d0d0d", me)  # can't tell
    # The same host name, another process space (a container on the host's network): its pids
    # are not ours to look at.
    name = host.split("/")[0]
    assert not gone_from_here(f"{name}/0123456789ab:{finished_pid()}:0f0f0f0f", me)
    assert not gone_from_here("test:gone", me)
    assert not gone_from_here(f"{host}:not-a-pid:0e0e0e0e", me)


async def test_a_runner_resumes_only_the_jobs_of_its_own_shards(rig: Rig) -> None:
    async with stored(rig) as store:  # both in flight before the runner starts
        mine = await store.create_job(new_job(guild=GUILD_0))
        theirs = await store.create_job(new_job(guild=GUILD_1))
    rig.shards = ShardSet(2, (0,))
    await rig.start()
    await rig.wait_state(mine.id, JobState.DELIVERED)
    await rig.stop()
    assert [job_id for job_id, _ in rig.kling.creates] == [mine.id]
    assert {job_id for job_id, _ in rig.observer.states} == {mine.id}  # no card of theirs
    async with stored(rig) as store:
        left = await store.get_job(theirs.id)
        assert left is not None and left.state is JobState.QUEUED
        assert await store.job_claim(theirs.id) == (None, None)  # left to its own process


async def test_jobs_of_a_process_of_this_host_that_is_gone_are_resumed_at_once(rig: Rig) -> None:
    place = new_owner_id().split(":")[0]
    dead = f"{place}:{finished_pid()}:5eed5eed"
    alive_elsewhere = "other-host:4242:5eed5eed"
    async with stored(rig) as store:
        orphan = await store.create_job(new_job())
        held = await store.create_job(new_job())
        await store.claim_job(orphan.id, owner=dead, lease=HOUR)
        await store.claim_job(held.id, owner=alive_elsewhere, lease=HOUR)
    await rig.start()
    await rig.wait_state(orphan.id, JobState.DELIVERED)  # long before the dead one's lease ends
    await rig.stop()
    assert [job_id for job_id, _ in rig.kling.creates] == [orphan.id]
    async with stored(rig) as store:
        assert (await store.job_claim(held.id))[0] == alive_elsewhere


async def test_a_clean_stop_leaves_no_claim(rig: Rig) -> None:
    rig.kling.polls_needed = 50
    runner = await rig.start()
    job = await runner.submit(new_job())
    await rig.wait_state(job.id, JobState.PROCESSING)
    assert rig.store is not None
    assert (await rig.store.job_claim(job.id))[0] == runner.owner
    await runner.stop()
    assert await rig.store.job_claim(job.id) == (None, None)
