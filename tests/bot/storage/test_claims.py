"""Claims on jobs (SPEC §11): one conditional UPDATE decides which process may act on a job."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.storage import JobKind, JobState, NewJob, Store
from tests.bot.storage.conftest import ALICE, CHANNEL, GUILD, ManualClock

ONE, TWO = "host-a:101:aaaa", "host-b:202:bbbb"
LEASE = 30.0


def new_job() -> NewJob:
    return NewJob(
        kind=JobKind.EDIT_REMOVAL,
        guild_id=GUILD,
        channel_id=CHANNEL,
        requester_id=ALICE,
        request={"prompt": "remove the car"},
    )


async def test_a_free_job_is_claimed_and_then_refused_to_another_owner(
    store: Store, clock: ManualClock
) -> None:
    job = await store.create_job(new_job())
    claimed = await store.claim_job(job.id, owner=ONE, lease=LEASE)
    assert claimed is not None and claimed.id == job.id and claimed.state is JobState.QUEUED
    assert await store.job_claim(job.id) == (ONE, clock.now + LEASE)
    clock.now += LEASE - 1  # still within the lease
    assert await store.claim_job(job.id, owner=TWO, lease=LEASE) is None
    assert await store.job_claim(job.id) == (ONE, clock.now - (LEASE - 1) + LEASE)


async def test_the_holder_claims_again_and_extends_its_lease(
    store: Store, clock: ManualClock
) -> None:
    job = await store.create_job(new_job())
    await store.claim_job(job.id, owner=ONE, lease=LEASE)
    clock.now += 20
    assert await store.claim_job(job.id, owner=ONE, lease=LEASE) is not None
    assert await store.job_claim(job.id) == (ONE, clock.now + LEASE)


async def test_an_expired_lease_is_taken_over(store: Store, clock: ManualClock) -> None:
    job = await store.create_job(new_job())
    await store.claim_job(job.id, owner=ONE, lease=LEASE)
    clock.now += LEASE + 0.001
    taken = await store.claim_job(job.id, owner=TWO, lease=LEASE)
    assert taken is not None
    assert await store.job_claim(job.id) == (TWO, clock.now + LEASE)
    assert await store.claim_job(job.id, owner=ONE, lease=LEASE) is None  # the old holder lost it


async def test_a_claim_changes_neither_state_nor_history(store: Store, clock: ManualClock) -> None:
    job = await store.create_job(new_job())
    clock.now += 5
    claimed = await store.claim_job(job.id, owner=ONE, lease=LEASE)
    assert claimed is not None
    assert claimed.updated_at == job.updated_at  # time limits count from real changes only
    assert [e.to_state for e in await store.list_job_events(job.id)] == [JobState.QUEUED]


async def test_renewing_extends_every_lease_of_the_owner_in_flight_only(
    store: Store, clock: ManualClock
) -> None:
    mine, also_mine, theirs, ended = [await store.create_job(new_job()) for _ in range(4)]
    assert len(await store.claim_jobs([mine.id, also_mine.id, ended.id], owner=ONE, lease=LEASE))
    await store.claim_job(theirs.id, owner=TWO, lease=LEASE)
    await store.cancel_job(ended.id, "changed my mind")
    clock.now += 25
    assert await store.renew_claims(owner=ONE, lease=LEASE) == {mine.id, also_mine.id}
    assert await store.job_claim(mine.id) == (ONE, clock.now + LEASE)
    assert await store.job_claim(theirs.id) == (TWO, clock.now - 25 + LEASE)  # not touched


async def test_renewing_after_a_takeover_leaves_the_job_to_its_new_holder(
    store: Store, clock: ManualClock
) -> None:
    job = await store.create_job(new_job())
    await store.claim_job(job.id, owner=ONE, lease=LEASE)
    clock.now += LEASE + 1  # ONE stalled past its lease
    await store.claim_job(job.id, owner=TWO, lease=LEASE)
    assert await store.renew_claims(owner=ONE, lease=LEASE) == set()
    assert (await store.job_claim(job.id))[0] == TWO


async def test_releasing_frees_the_jobs_at_once(store: Store, clock: ManualClock) -> None:
    first, second = [await store.create_job(new_job()) for _ in range(2)]
    await store.claim_jobs([first.id, second.id], owner=ONE, lease=LEASE)
    assert await store.release_claims(owner=TWO) == 0  # not theirs to release
    assert await store.release_claims(owner=ONE, job_ids=[first.id]) == 1
    assert await store.job_claim(first.id) == (None, None)
    assert await store.release_claims(owner=ONE) == 1
    assert await store.claim_job(second.id, owner=TWO, lease=LEASE) is not None  # no wait


async def test_claiming_many_skips_those_held_by_another(store: Store, clock: ManualClock) -> None:
    jobs = [await store.create_job(new_job()) for _ in range(3)]
    await store.claim_job(jobs[1].id, owner=TWO, lease=LEASE)
    claimed = await store.claim_jobs([job.id for job in jobs], owner=ONE, lease=LEASE)
    assert sorted(job.id for job in claimed) == sorted([jobs[0].id, jobs[2].id])


async def test_claimable_jobs_are_free_expired_or_already_mine_and_in_flight(
    store: Store, clock: ManualClock
) -> None:
    free, mine, held, expired, ended = [await store.create_job(new_job()) for _ in range(5)]
    await store.claim_job(mine.id, owner=ONE, lease=LEASE)
    await store.claim_job(held.id, owner=TWO, lease=LEASE * 10)
    await store.claim_job(expired.id, owner=TWO, lease=LEASE)
    await store.cancel_job(ended.id)
    clock.now += LEASE + 1
    found = await store.claimable_jobs(owner=ONE)
    assert [job.id for job in found] == [free.id, mine.id, expired.id]  # oldest first


async def test_two_stores_racing_for_one_job_give_it_to_one(
    db_where: str | Path, clock: ManualClock
) -> None:
    """Two processes (two connections to one database) claim the same jobs at the same moment."""
    one, two = await Store.open(db_where, clock=clock), await Store.open(db_where, clock=clock)
    try:
        jobs = [await one.create_job(new_job()) for _ in range(20)]
        ids = [job.id for job in jobs]
        won_one, won_two = await asyncio.gather(
            *(
                asyncio.gather(*(store.claim_job(i, owner=owner, lease=LEASE) for i in ids))
                for store, owner in ((one, ONE), (two, TWO))
            )
        )
        for first, second in zip(won_one, won_two, strict=True):
            assert (first is None) != (second is None)  # exactly one of them holds each job
    finally:
        await one.close()
        await two.close()
