"""Fault matrix, task side: every Kling error code, timeouts, drops and malformed bodies on create
and on the task query, driven through the real JobRunner and KlingClient against the emulator.

Each case asserts: the outcome a user sees (delivered once, or failed with the specific message),
that only safe calls were repeated (emulator call counts per endpoint), and that the emulator holds
at most one task per job, with the job's own id as external_task_id.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.kling.errors import error_for
from bot.storage import Job, JobState
from tests.faults.matrix import record
from tests.faults.world import GENEROUS_S, JobWorld, job_world

CREATE, GET = "multi-image2video:create", "multi-image2video:get"
ALL_CODES = (
    1000,
    1001,
    1002,
    1003,
    1004,
    1100,
    1101,
    1102,
    1103,
    1200,
    1201,
    1202,
    1203,
    1300,
    1301,
    1302,
    1303,
    1304,
    5000,
    5001,
    5002,
)
RENEWED = {1000, 1003, 1004}  # a fresh JWT, then the same call once more
THROTTLED = {1302, 1303}  # Kling certainly did not act: safe to repeat
SERVER = {5000, 5001, 5002}  # outcome unknown: look the task up before any resend
# Only the timeout cases have a short limit: the hung call is held by the emulator until the test
# releases it, so the limit alone decides when the client gives up, while the normal calls around
# it (the lookup, the resend, the polls) need only finish within it on a busy machine.
HUNG_LIMIT_S = 3.0


def limit_for(fault: str) -> float:
    return HUNG_LIMIT_S if fault == "timeout" else GENEROUS_S


async def finish_late_request(world: JobWorld, endpoint: str) -> None:
    """The client gave up while Kling still held the call (a timeout, not an answer); now let
    that late request reach Kling and wait until Kling has done all it does with it."""
    assert world.emulator.faults.held == 1
    world.emulator.faults.release()
    async with asyncio.timeout(60):
        await world.emulator.faults.settled(endpoint)


def message_for(code: int) -> str:
    return error_for(None, code, None, None).user_message


def outcome(job: Job, world: JobWorld) -> str:
    if job.state is JobState.DELIVERED:
        posts = [jid for jid, _ in world.deliverer.posted if jid == job.id]
        assert len(posts) == 1, f"posted {len(posts)} times"
        return "delivered once"
    assert job.state is JobState.FAILED, job.state
    assert job.status_msg
    return f"failed: {job.status_msg}"


def check_tasks(world: JobWorld, job: Job) -> int:
    tasks = list(world.emulator.store.tasks.values())
    assert len(tasks) <= 1, f"{len(tasks)} Kling tasks for one job"
    assert all(t.external_task_id == job.id for t in tasks)
    if job.state is JobState.DELIVERED:
        assert len(tasks) == 1 and job.kling_task_id == tasks[0].task_id
    return len(tasks)


def counts(world: JobWorld) -> str:
    calls = world.calls
    return f"create×{calls.get(CREATE, 0)}, get×{calls.get(GET, 0)}"


@pytest.mark.parametrize("code", ALL_CODES)
async def test_error_code_on_create(tmp_path: Path, code: int) -> None:
    async with job_world(tmp_path) as world:
        world.emulator.faults.fail(CREATE, code)
        job = await world.submit()
        done = await world.settle(job.id)
        seen, creates = outcome(done, world), world.calls.get(CREATE, 0)
        tasks = check_tasks(world, done)
        lookups = world.calls.get(GET, 0) + world.calls.get("multi-image2video:list", 0)
    if code in RENEWED | THROTTLED | {1202} | SERVER:
        # Renewed token / certain non-creation / other route spelling / lookup found nothing:
        # sent once more, with the same external_task_id.
        assert seen == "delivered once" and creates == 2 and tasks == 1
        if code in SERVER:
            assert lookups >= 2  # the reconcile lookup, then the polls
    else:
        assert seen == f"failed: {message_for(code)}"
        assert creates == 1 and tasks == 0
    record(f"code {code}", "create", seen, counts(world), tasks)


@pytest.mark.parametrize("code", ALL_CODES)
async def test_error_code_on_task_query(tmp_path: Path, code: int) -> None:
    persistent = code not in RENEWED | THROTTLED | SERVER
    async with job_world(tmp_path) as world:
        # Transient for codes that deserve a retry; for the others, every poll fails.
        world.emulator.faults.fail(GET, code, times=None if persistent else 1)
        job = await world.submit()
        done = await world.settle(job.id)
        seen, gets, tasks = outcome(done, world), world.calls.get(GET, 0), check_tasks(world, done)
    assert tasks == 1 and world.calls.get(CREATE) == 1
    if persistent:
        # Not retried within a poll; the job fails after max_poll_errors polls, with the reason.
        assert seen == f"failed: {message_for(code)}"
        assert gets == 3
    else:
        assert seen == "delivered once" and gets >= 2
    record(
        f"code {code}" + (" (every poll)" if persistent else " (once)"),
        "get",
        seen,
        counts(world),
        tasks,
    )


TRANSPORT_FAULTS = (
    "timeout",
    "drop",
    "drop after create",
    "5000 after create",
    "html 502",
    "truncated json 200",
    "drop + lookup fails",
)


@pytest.mark.parametrize("fault", TRANSPORT_FAULTS)
async def test_transport_fault_on_create(tmp_path: Path, fault: str) -> None:
    async with job_world(tmp_path, total_timeout=limit_for(fault)) as world:
        faults = world.emulator.faults
        if fault == "timeout":
            faults.stall(CREATE)
        elif fault == "drop":
            faults.drop(CREATE)
        elif fault == "drop after create":
            faults.drop(CREATE, after_handler=True)
        elif fault == "5000 after create":
            faults.fail(CREATE, 5000, after_handler=True)
        elif fault == "html 502":
            faults.malformed(CREATE, "html")
        elif fault == "truncated json 200":
            faults.malformed(CREATE, "truncated_json")
        else:
            faults.drop(CREATE, after_handler=True)
            faults.fail(GET, 5000, times=4)  # the client's own lookup gives up
        job = await world.submit()
        done = await world.settle(job.id)
        if fault == "timeout":
            await finish_late_request(world, CREATE)  # it finds the job's id taken
        seen, tasks = outcome(done, world), check_tasks(world, done)
        creates = world.calls.get(CREATE, 0)
    assert seen == "delivered once" and tasks == 1
    # A request that reached Kling is never sent again blindly: once the task exists, no resend.
    assert creates == (1 if "after create" in fault or "lookup" in fault else 2)
    record(fault, "create", seen, counts(world), tasks)


@pytest.mark.parametrize("fault", ("timeout", "drop", "html 502", "truncated json 200"))
async def test_transport_fault_on_task_query(tmp_path: Path, fault: str) -> None:
    async with job_world(tmp_path, total_timeout=limit_for(fault)) as world:
        faults = world.emulator.faults
        if fault == "timeout":
            faults.stall(GET)
        elif fault == "drop":
            faults.drop(GET)
        elif fault == "html 502":
            faults.malformed(GET, "html")
        else:
            faults.malformed(GET, "truncated_json")
        job = await world.submit()
        done = await world.settle(job.id)
        if fault == "timeout":
            await finish_late_request(world, GET)
        seen, tasks = outcome(done, world), check_tasks(world, done)
    assert seen == "delivered once" and tasks == 1
    assert world.calls.get(GET, 0) >= 2 and world.calls.get(CREATE) == 1
    record(fault, "get", seen, counts(world), tasks)


async def test_kling_stays_full_then_frees_a_slot(tmp_path: Path) -> None:
    """1303 on every create for a while: the job waits in the local queue, then goes through."""
    async with job_world(tmp_path) as world:
        world.emulator.faults.fail(CREATE, 1303, times=6)
        job = await world.submit()
        done = await world.settle(job.id)
        seen, tasks = outcome(done, world), check_tasks(world, done)
    assert seen == "delivered once" and tasks == 1
    assert world.calls.get(CREATE) == 7
    assert world.runner.stats.creates >= 2  # requeued at least once by the runner itself
    record("code 1303 ×6", "create", seen + " (queued locally meanwhile)", counts(world), tasks)


async def test_task_failed_at_kling_shows_its_reason(tmp_path: Path) -> None:
    async with job_world(tmp_path) as world:
        job = await world.submit(prompt="a forbidden scene")
        done = await world.settle(job.id)
        seen, tasks = outcome(done, world), check_tasks(world, done)
    assert seen.startswith("failed: ") and "content" in seen.lower()
    record("task_status failed", "get", seen, counts(world), tasks)
