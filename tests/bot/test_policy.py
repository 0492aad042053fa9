"""Who may spend credits: every refusal, its message, and when it lifts."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.errors import user_message_for
from bot.policy import (
    PolicyError,
    Refusal,
    check_can_submit,
    check_channel_enabled,
    check_member_can_submit,
    describe_reset,
    next_daily_reset,
)
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

GUILD = 500
CHANNEL = 600
THREAD = 601
EDITORS = 700
ALICE = 800
# 2026-03-14 15:30:00 UTC: the next reset is 2026-03-15 00:00 UTC.
AFTERNOON = datetime(2026, 3, 14, 15, 30, tzinfo=UTC).timestamp()
NEXT_MIDNIGHT = int(datetime(2026, 3, 15, tzinfo=UTC).timestamp())


def settings(**changes: Any) -> GuildSettings:
    return dataclasses.replace(GuildSettings(guild_id=GUILD), **changes)


def check(config: GuildSettings, **overrides: Any) -> None:
    facts: dict[str, Any] = {
        "member_role_ids": set(),
        "channel_id": CHANNEL,
        "is_admin": False,
        "mode": "std",
        "usage": UsageCounts(),
        "active_jobs": 0,
        "now": AFTERNOON,
    }
    facts.update(overrides)
    check_can_submit(config, **facts)


def refused(config: GuildSettings, **overrides: Any) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        check(config, **overrides)
    # The Discord layer shows exactly this sentence (no error id).
    assert user_message_for(caught.value) == caught.value.user_message
    return caught.value


def test_defaults_let_an_ordinary_member_submit() -> None:
    check(settings())
    check(settings(), mode="pro", usage=UsageCounts(jobs_today=9), active_jobs=2)


def test_disabled_channel_refuses_paid_and_free_steps_alike() -> None:
    config = settings(disabled_channels=frozenset({CHANNEL}))
    error = refused(config, is_admin=True)
    assert error.refusal is Refusal.CHANNEL_DISABLED
    assert error.user_message.startswith("The bot is disabled in this channel")
    assert error.resets_at is None
    with pytest.raises(PolicyError, match="disabled in this channel"):
        check_channel_enabled(config, CHANNEL)
    check_channel_enabled(config, CHANNEL + 1)


def test_a_thread_of_a_disabled_channel_is_disabled_too() -> None:
    config = settings(disabled_channels=frozenset({CHANNEL}))
    with pytest.raises(PolicyError):
        check_channel_enabled(config, THREAD, parent_channel_id=CHANNEL)
    assert refused(config, channel_id=THREAD, parent_channel_id=CHANNEL).refusal is (
        Refusal.CHANNEL_DISABLED
    )
    check_channel_enabled(settings(), THREAD, parent_channel_id=CHANNEL)


def test_submit_role_refuses_members_without_it_and_names_the_role() -> None:
    config = settings(submit_role_id=EDITORS)
    error = refused(config, member_role_ids={GUILD, 1})
    assert error.refusal is Refusal.MISSING_ROLE
    assert error.user_message.startswith(
        f"Only members with the <@&{EDITORS}> role can submit paid jobs"
    )
    check(config, member_role_ids={GUILD, EDITORS})
    # Admins manage the settings anyway; the role does not stop them.
    check(config, is_admin=True)


def test_the_everyone_role_as_submit_role_means_everyone() -> None:
    check(settings(submit_role_id=GUILD))


def test_role_is_checked_before_limits() -> None:
    config = settings(submit_role_id=EDITORS, daily_jobs_per_member=1)
    error = refused(config, usage=UsageCounts(jobs_today=5))
    assert error.refusal is Refusal.MISSING_ROLE


def test_pro_mode_turned_off() -> None:
    config = settings(pro_allowed=False)
    error = refused(config, mode="pro", is_admin=True)
    assert error.refusal is Refusal.PRO_NOT_ALLOWED
    assert error.user_message == "Pro mode is turned off on this server; submit with mode std."
    check(config, mode="std")
    assert refused(settings(), mode="turbo").refusal is Refusal.UNKNOWN_MODE


def test_daily_limit_says_how_many_and_when_it_resets() -> None:
    config = settings(daily_jobs_per_member=10)
    check(config, usage=UsageCounts(jobs_today=9, jobs_month=40))
    error = refused(config, usage=UsageCounts(jobs_today=10))
    assert error.refusal is Refusal.DAILY_LIMIT
    assert error.resets_at == NEXT_MIDNIGHT
    assert error.user_message == (
        f"You have used your 10 jobs for today; the limit resets <t:{NEXT_MIDNIGHT}:R> (00:00 UTC)."
    )
    # Admins are counted like everyone else: the limit protects the account's credits.
    assert refused(config, usage=UsageCounts(jobs_today=11), is_admin=True).refusal is (
        Refusal.DAILY_LIMIT
    )


def test_daily_limit_of_one_and_of_zero_read_naturally() -> None:
    one = refused(settings(daily_jobs_per_member=1), usage=UsageCounts(jobs_today=1))
    assert one.user_message.startswith("You have used your 1 job for today;")
    zero = refused(settings(daily_jobs_per_member=0))
    assert "allows no paid jobs per member today" in zero.user_message


def test_unlimited_daily_and_concurrent() -> None:
    check(
        settings(daily_jobs_per_member=None, concurrent_jobs_per_guild=None),
        usage=UsageCounts(jobs_today=10_000),
        active_jobs=500,
    )


def test_concurrent_limit_names_the_running_jobs() -> None:
    config = settings(concurrent_jobs_per_guild=3)
    check(config, active_jobs=2)
    error = refused(config, active_jobs=3)
    assert error.refusal is Refusal.CONCURRENT_LIMIT
    assert error.resets_at is None
    assert error.user_message == (
        "This server already has 3 jobs running (its limit is 3); try again when one finishes."
    )
    single = refused(settings(concurrent_jobs_per_guild=1), active_jobs=1)
    assert "already has 1 job running" in single.user_message
    assert "paused" in refused(settings(concurrent_jobs_per_guild=0)).user_message


def test_daily_limit_is_reported_before_the_concurrent_one() -> None:
    config = settings(daily_jobs_per_member=2, concurrent_jobs_per_guild=1)
    error = refused(config, usage=UsageCounts(jobs_today=2), active_jobs=1)
    assert error.refusal is Refusal.DAILY_LIMIT


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 3, 14, 0, 0, 0, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC)),
        (datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC)),
        (datetime(2026, 3, 31, 12, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, 18, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2028, 2, 28, 18, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC)),
    ],
)
def test_daily_reset_is_the_next_utc_midnight(moment: datetime, expected: datetime) -> None:
    assert next_daily_reset(moment) == expected.timestamp()
    assert next_daily_reset(moment.timestamp()) == expected.timestamp()


def test_reset_time_is_a_discord_relative_timestamp() -> None:
    assert describe_reset(NEXT_MIDNIGHT + 0.7) == f"<t:{NEXT_MIDNIGHT}:R> (00:00 UTC)"


# -- against the real store -----------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(AFTERNOON)


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.sqlite3", clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def accepted_job(store: Store, *, user: int = ALICE, finished: bool = True) -> str:
    job = await store.create_job(NewJob(JobKind.EDIT_REMOVAL, GUILD, CHANNEL, user, {}))
    await store.transition_job(
        job.id,
        from_states=[JobState.QUEUED],
        to=JobState.SUBMITTED,
        submitted_at=store.now(),
        kling_task_id=f"t-{job.id}",
    )
    if finished:
        await store.transition_job(
            job.id, from_states=[JobState.SUBMITTED], to=JobState.FAILED, finished_at=store.now()
        )
    return job.id


async def submit_check(store: Store, **overrides: Any) -> GuildSettings:
    facts: dict[str, Any] = {
        "guild_id": GUILD,
        "user_id": ALICE,
        "member_role_ids": set(),
        "channel_id": CHANNEL,
        "is_admin": False,
        "mode": "std",
    }
    facts.update(overrides)
    return await check_member_can_submit(store, **facts)


async def test_stored_settings_and_counts_drive_the_refusal(store: Store, clock: Clock) -> None:
    await store.update_settings(GUILD, daily_jobs_per_member=2, concurrent_jobs_per_guild=5)
    assert (await submit_check(store)).daily_jobs_per_member == 2
    await accepted_job(store)
    # A job Kling never accepted (refused at submit) is not counted.
    refused_job = await store.create_job(NewJob(JobKind.EDIT_SWAP, GUILD, CHANNEL, ALICE, {}))
    await store.cancel_job(refused_job.id, "kling said no")
    await submit_check(store)
    await accepted_job(store)
    with pytest.raises(PolicyError) as caught:
        await submit_check(store)
    assert caught.value.refusal is Refusal.DAILY_LIMIT
    assert f"<t:{NEXT_MIDNIGHT}:R>" in caught.value.user_message

    # The same limits, re-checked atomically by the insert, agree.
    with pytest.raises(QuotaExceededError):
        await store.create_job(
            NewJob(JobKind.EDIT_REMOVAL, GUILD, CHANNEL, ALICE, {}),
            limits=JobLimits.from_settings(await store.get_settings(GUILD)),
        )

    # After 00:00 UTC the member may submit again.
    clock.now = NEXT_MIDNIGHT + 1
    await submit_check(store)


async def test_running_jobs_of_the_server_count_against_the_concurrent_limit(
    store: Store,
) -> None:
    await store.update_settings(GUILD, daily_jobs_per_member=None, concurrent_jobs_per_guild=2)
    await accepted_job(store, user=1, finished=False)
    await submit_check(store)
    await accepted_job(store, user=2, finished=False)
    with pytest.raises(PolicyError) as caught:
        await submit_check(store)
    assert caught.value.refusal is Refusal.CONCURRENT_LIMIT


async def test_store_backed_check_refuses_role_and_channel(store: Store) -> None:
    await store.update_settings(GUILD, submit_role_id=EDITORS, disabled_channels=[CHANNEL + 5])
    with pytest.raises(PolicyError) as caught:
        await submit_check(store)
    assert caught.value.refusal is Refusal.MISSING_ROLE
    await submit_check(store, member_role_ids={EDITORS})
    with pytest.raises(PolicyError) as caught:
        await submit_check(store, member_role_ids={EDITORS}, channel_id=CHANNEL + 5)
    assert caught.value.refusal is Refusal.CHANNEL_DISABLED
