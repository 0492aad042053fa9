"""The quota checks and the jobs lists read a server's jobs through an index, never a scan of its
whole history: each statement the store really runs is asked for SQLite's query plan."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.storage import JobKind, JobLimits, JobState, NewJob, QuotaExceededError, Store
from tests.bot.storage.conftest import ALICE, BOB, CHANNEL, GUILD, ManualClock


async def statements_of(store: Store, call: Callable[[], Awaitable[Any]]) -> list[str]:
    """The SQL (with its values filled in) of every statement ``call`` runs on the jobs table."""
    seen: list[str] = []
    await store._conn.set_trace_callback(seen.append)
    try:
        await call()
    finally:
        await store._conn.set_trace_callback(None)
    return [
        sql
        for sql in seen
        if " jobs " in f"{sql} " and sql.lstrip().upper().startswith(("SELECT", "WITH"))
    ]


def plan_of(db_path: Path, sql: str) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]


def new_job(requester: int = ALICE, guild: int = GUILD) -> NewJob:
    return NewJob(JobKind.EDIT_REMOVAL, guild, CHANNEL, requester, {"prompt": "the red car"})


LIMITS = JobLimits(daily_jobs_per_member=100, concurrent_jobs_per_guild=100)

CALLS: dict[str, tuple[Callable[[Store], Awaitable[Any]], str]] = {
    "count_active_jobs": (lambda s: s.count_active_jobs(GUILD), "jobs_active_by_guild"),
    "count_active_jobs of a member": (
        lambda s: s.count_active_jobs(GUILD, user_id=BOB), "jobs_active_by_guild"),
    "recent_jobs": (lambda s: s.recent_jobs(GUILD), "jobs_by_guild_created"),
    "recent_jobs of a member": (
        lambda s: s.recent_jobs(GUILD, user_id=BOB), "jobs_by_guild_member_created"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CALLS))
async def test_the_query_uses_its_index(
    name: str, store: Store, db_path: Path, clock: ManualClock
) -> None:
    call, index = CALLS[name]
    for n in range(30):  # a history: some finished, some active, two members, two servers
        job = await store.create_job(new_job(requester=(ALICE, BOB)[n % 2], guild=GUILD + n % 3))
        if n % 4:
            await store.cancel_job(job.id, "changed my mind")
        clock.now += 60
    [sql] = await statements_of(store, lambda: call(store))
    plan = plan_of(db_path, sql)
    assert any(f"INDEX {index} " in step for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan  # ordered by the index


async def test_the_quota_check_of_a_submit_uses_the_indexes(store: Store, db_path: Path) -> None:
    await store.create_job(new_job(), limits=LIMITS)
    statements = await statements_of(store, lambda: store.create_job(new_job(), limits=LIMITS))
    counts = [sql for sql in statements if "COUNT(*)" in sql]
    assert len(counts) == 2  # the server's active jobs, the member's jobs today
    plans = [plan_of(db_path, sql) for sql in counts]
    assert any("COVERING INDEX jobs_active_by_guild " in step for step in plans[0]), plans
    assert any("INDEX jobs_by_guild_member_created " in step for step in plans[1]), plans
    assert not any(step.startswith("SCAN") for plan in plans for step in plan), plans


async def test_counts_follow_the_jobs_states(store: Store, clock: ManualClock) -> None:
    """The partial index holds exactly the active jobs: counts follow every state change."""
    jobs = [await store.create_job(new_job(requester=(ALICE, BOB)[n % 2])) for n in range(6)]
    await store.create_job(new_job(guild=GUILD + 1))
    assert await store.count_active_jobs(GUILD) == 6
    assert await store.count_active_jobs(GUILD, user_id=BOB) == 3
    await store.cancel_job(jobs[1].id)  # Bob's
    moved = await store.transition_job(
        jobs[0].id, from_states=[JobState.QUEUED], to=JobState.SUBMITTING
    )
    assert moved is not None
    assert await store.count_active_jobs(GUILD) == 5  # submitting still holds a slot
    await store.transition_job(jobs[0].id, from_states=[JobState.SUBMITTING], to=JobState.FAILED)
    assert await store.count_active_jobs(GUILD) == 4
    assert await store.count_active_jobs(GUILD, user_id=BOB) == 2
    assert await store.count_active_jobs(GUILD, user_id=ALICE) == 2
    with pytest.raises(QuotaExceededError, match="concurrent_jobs_per_guild"):
        await store.create_job(new_job(), limits=JobLimits(concurrent_jobs_per_guild=4))
    newest = await store.recent_jobs(GUILD, user_id=BOB, limit=2)
    assert [j.id for j in newest] == [jobs[5].id, jobs[3].id]
