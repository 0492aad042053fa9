from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.storage import (
    GuildSettings,
    JobKind,
    JobLimits,
    JobState,
    NewJob,
    QuotaExceededError,
    Store,
    UsageCounts,
)
from tests.bot.storage.conftest import ALICE, BOB, CHANNEL, GUILD, ManualClock, new_session

REQUEST = {"edit_mode": "removal", "prompt": "Delete the red car from <<<video_1>>>", "mode": "std"}


def new_job(user: int = ALICE, kind: JobKind = JobKind.EDIT_REMOVAL) -> NewJob:
    return NewJob(
        kind=kind, guild_id=GUILD, channel_id=CHANNEL, requester_id=user, request=dict(REQUEST)
    )


async def accept(store: Store, job_id: str, clock: ManualClock, task_id: str) -> None:
    await store.transition_job(job_id, from_states=[JobState.QUEUED], to=JobState.SUBMITTING)
    await store.transition_job(
        job_id,
        from_states=[JobState.SUBMITTING],
        to=JobState.SUBMITTED,
        kling_task_id=task_id,
        submitted_at=clock.now,
    )


async def test_job_round_trip_and_event_log(store: Store, clock: ManualClock) -> None:
    session = await store.start_session(new_session())
    job = await store.create_job(
        NewJob(
            kind=JobKind.EDIT_SWAP,
            guild_id=GUILD,
            channel_id=CHANNEL,
            requester_id=ALICE,
            session_id=session.id,
            request={"prompt": "swap", "image_paths": ["/media/ref-1.png"]},
        )
    )
    assert len(job.id) == 32 and job.external_task_id == job.id
    assert job.state is JobState.QUEUED and job.queued_at == clock.now
    clock.now += 3
    await accept(store, job.id, clock, "task-1")
    got = await store.get_job(job.id)
    assert got is not None
    assert got.request == {"prompt": "swap", "image_paths": ["/media/ref-1.png"]}
    assert (got.state, got.kling_task_id, got.submit_attempts) == (JobState.SUBMITTED, "task-1", 1)
    events = await store.list_job_events(job.id)
    assert [(e.from_state, e.to_state) for e in events] == [
        (None, JobState.QUEUED),
        (JobState.QUEUED, JobState.SUBMITTING),
        (JobState.SUBMITTING, JobState.SUBMITTED),
    ]
    assert events[-1].at == clock.now
    assert [j.id for j in await store.session_jobs(session.id)] == [job.id]


async def test_transition_is_compare_and_set(store: Store) -> None:
    job = await store.create_job(new_job())
    # Moving out of a state the job is not in changes nothing and logs nothing.
    assert (
        await store.transition_job(job.id, from_states=[JobState.PROCESSING], to=JobState.FAILED)
        is None
    )
    winners = await asyncio.gather(
        *(
            store.transition_job(job.id, from_states=[JobState.QUEUED], to=JobState.SUBMITTING)
            for _ in range(5)
        )
    )
    assert sum(w is not None for w in winners) == 1
    assert len(await store.list_job_events(job.id)) == 2
    with pytest.raises(ValueError, match="not settable"):
        await store.transition_job(
            job.id, from_states=[JobState.SUBMITTING], to=JobState.QUEUED, state="delivered"
        )


async def test_claim_delivery_succeeds_once(
    store: Store, db_where: str | Path, clock: ManualClock
) -> None:
    job = await store.create_job(new_job())
    await accept(store, job.id, clock, "task-claim")
    assert await store.claim_delivery(job.id) is None  # not succeeded yet
    await store.transition_job(
        job.id, from_states=[JobState.SUBMITTED], to=JobState.SUCCEEDED, result_url="https://r"
    )
    claims = await asyncio.gather(*(store.claim_delivery(job.id) for _ in range(6)))
    won = [c for c in claims if c is not None]
    assert len(won) == 1
    assert won[0].delivery_attempts == 1 and won[0].delivery_key == job.id[:25]

    # A second process (fresh connection to the same file) cannot claim it either.
    other = await Store.open(db_where, clock=clock)
    try:
        assert await other.claim_delivery(job.id) is None
        # Re-claiming after a crash is a CAS on the attempt counter: one winner.
        retakes = await asyncio.gather(
            store.reclaim_delivery(job.id, 1), other.reclaim_delivery(job.id, 1)
        )
        assert sum(r is not None for r in retakes) == 1
    finally:
        await other.close()
    delivered = await store.mark_delivered(job.id, 555)
    assert delivered is not None and delivered.state is JobState.DELIVERED
    assert delivered.result_message_id == 555
    assert await store.mark_delivered(job.id, 556) is None


async def test_cancel_only_before_kling_sees_the_job(store: Store, clock: ManualClock) -> None:
    queued = await store.create_job(new_job())
    sent = await store.create_job(new_job())
    await accept(store, sent.id, clock, "task-sent")
    cancelled = await store.cancel_job(queued.id, "cancelled by the requester")
    assert cancelled is not None and cancelled.state is JobState.CANCELLED
    assert await store.cancel_job(sent.id) is None
    assert [j.id for j in await store.list_in_flight_jobs()] == [sent.id]


async def test_queue_order_and_in_flight_listing(store: Store, clock: ManualClock) -> None:
    ids = []
    for _ in range(3):
        ids.append((await store.create_job(new_job())).id)
        clock.now += 1
    other_guild = await store.create_job(
        NewJob(JobKind.ANIMATE, GUILD + 1, CHANNEL, BOB, {"prompt": "dogs"})
    )
    assert [j.id for j in await store.queued_jobs(GUILD)] == ids
    assert [j.id for j in await store.queued_jobs()] == [*ids, other_guild.id]
    assert await store.count_active_jobs(GUILD) == 3
    assert await store.count_active_jobs(GUILD, user_id=BOB) == 0


async def test_average_duration_per_kind(store: Store, clock: ManualClock) -> None:
    assert await store.average_job_seconds(JobKind.EDIT_REMOVAL) is None
    for seconds in (100.0, 200.0):
        job = await store.create_job(new_job())
        await accept(store, job.id, clock, f"task-{seconds}")
        await store.transition_job(
            job.id,
            from_states=[JobState.SUBMITTED],
            to=JobState.SUCCEEDED,
            finished_at=clock.now + seconds,
        )
    failed = await store.create_job(new_job())
    await accept(store, failed.id, clock, "task-failed")
    await store.transition_job(
        failed.id, from_states=[JobState.SUBMITTED], to=JobState.FAILED, finished_at=clock.now + 5
    )
    assert await store.average_job_seconds(JobKind.EDIT_REMOVAL) == pytest.approx(150.0)
    assert await store.average_job_seconds(JobKind.ANIMATE) is None


async def test_usage_counts_only_jobs_kling_accepted(store: Store, clock: ManualClock) -> None:
    clock.now = datetime(2026, 3, 15, 12, tzinfo=UTC).timestamp()
    earlier_this_month = datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp()
    last_month = datetime(2026, 2, 27, 9, tzinfo=UTC).timestamp()

    async def accepted_job(user: int, at: float, units: float | None) -> None:
        job = await store.create_job(new_job(user))
        await accept(store, job.id, clock, f"task-{job.id}")
        await store.update_job(job.id, submitted_at=at, units=units)

    await accepted_job(ALICE, clock.now, 1.5)
    await accepted_job(ALICE, clock.now - 60, None)  # units not reported (yet)
    await accepted_job(ALICE, earlier_this_month, 3.0)
    await accepted_job(BOB, clock.now, 0.5)
    await accepted_job(BOB, last_month, 9.0)
    await store.create_job(new_job(ALICE))  # queued locally: not accepted
    refused = await store.create_job(new_job(BOB))  # Kling refused it (e.g. 1301)
    await store.transition_job(refused.id, from_states=[JobState.QUEUED], to=JobState.FAILED)

    alice = await store.member_usage(GUILD, ALICE)
    assert alice == UsageCounts(jobs_today=2, jobs_month=3, units_today=1.5, units_month=4.5)
    report = await store.guild_usage(GUILD)
    assert report.total == UsageCounts(jobs_today=3, jobs_month=4, units_today=2.0, units_month=5.0)
    assert [(m.user_id, m.usage.jobs_month) for m in report.members] == [(ALICE, 3), (BOB, 1)]
    recent = await store.recent_jobs(GUILD, user_id=BOB)
    assert len(recent) == 3 and all(j.requester_id == BOB for j in recent)


async def test_settings_defaults_and_updates(store: Store) -> None:
    defaults = await store.get_settings(GUILD)
    assert defaults == GuildSettings(guild_id=GUILD)
    assert defaults.confirm_submits and defaults.pro_allowed and defaults.default_mode == "std"
    assert defaults.submit_role_id is None  # everyone may submit

    updated = await store.update_settings(
        GUILD, submit_role_id=777, daily_jobs_per_member=None, default_mode="pro"
    )
    assert updated.submit_role_id == 777 and updated.daily_jobs_per_member is None
    assert updated.concurrent_jobs_per_guild == defaults.concurrent_jobs_per_guild
    again = await store.update_settings(GUILD, confirm_submits=False, disabled_channels=[5, 6])
    assert (again.default_mode, again.confirm_submits) == ("pro", False)
    assert again.disabled_channels == frozenset({5, 6})
    await store.set_channel_disabled(GUILD, 6, False)
    await store.set_channel_disabled(GUILD, 8, True)
    final = await store.get_settings(GUILD)
    assert final.disabled_channels == frozenset({5, 8})
    assert (await store.get_settings(GUILD + 1)) == GuildSettings(guild_id=GUILD + 1)

    with pytest.raises(ValueError):
        await store.update_settings(GUILD, default_mode="ultra")
    with pytest.raises(ValueError):
        await store.update_settings(GUILD, daily_jobs_per_member=-1)
    with pytest.raises(ValueError):
        await store.update_settings(GUILD, favourite_colour="red")
    assert await store.get_settings(GUILD) == final  # refused updates changed nothing


async def test_limits_are_checked_atomically_with_the_insert(
    store: Store, clock: ManualClock
) -> None:
    clock.now = datetime(2026, 3, 15, 23, 0, tzinfo=UTC).timestamp()
    limits = JobLimits(daily_jobs_per_member=3, concurrent_jobs_per_guild=None)
    results = await asyncio.gather(
        *(store.create_job(new_job(ALICE), limits=limits) for _ in range(8)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, QuotaExceededError)]
    assert len(refused) == 5 and len(results) - len(refused) == 3
    error = refused[0]
    assert (error.limit, error.current, error.maximum) == ("daily_jobs_per_member", 3, 3)
    assert error.resets_at == datetime(2026, 3, 16, tzinfo=UTC).timestamp()
    # Another member is not affected; a job Kling refused gives its slot back.
    await store.create_job(new_job(BOB), limits=limits)
    [first, *_] = await store.queued_jobs(GUILD)
    await store.transition_job(first.id, from_states=[JobState.QUEUED], to=JobState.FAILED)
    await store.create_job(new_job(ALICE), limits=limits)
    # Tomorrow the count starts over.
    clock.now += 3600
    await store.create_job(new_job(ALICE), limits=limits)


async def test_concurrent_jobs_per_server_limit(store: Store, clock: ManualClock) -> None:
    limits = JobLimits.from_settings(
        GuildSettings(guild_id=GUILD, daily_jobs_per_member=None, concurrent_jobs_per_guild=2)
    )
    one = await store.create_job(new_job(ALICE), limits=limits)
    await store.create_job(new_job(BOB), limits=limits)
    with pytest.raises(QuotaExceededError) as error:
        await store.create_job(new_job(BOB), limits=limits)
    assert error.value.limit == "concurrent_jobs_per_guild" and error.value.resets_at is None
    await accept(store, one.id, clock, "task-one")
    await store.transition_job(one.id, from_states=[JobState.SUBMITTED], to=JobState.SUCCEEDED)
    await store.create_job(new_job(BOB), limits=limits)  # a finished job frees its place


async def test_lookup_by_board_message(store: Store) -> None:
    session = await store.start_session(new_session())
    await store.set_board_message(session.id, 4242)
    found = await store.get_session_by_board(4242)
    assert found is not None and found.id == session.id
    assert await store.get_session_by_board(1) is None
