"""Who may spend the server's Kling credits, decided in one place before any paid call.

The Discord layer gathers the facts (the member's roles, whether they manage the server, the
channel, the member's usage and the server's running jobs) and calls :func:`check_can_submit`;
a refusal is a :class:`PolicyError` whose ``user_message`` says which limit was hit and when it
resets. Free steps (marking points, previews) only need :func:`check_channel_enabled`.

This is the early, friendly refusal. The limits are checked again atomically when the job row is
inserted (``Store.create_job(..., limits=JobLimits.from_settings(settings))``), so two submits
racing past this check still cannot overshoot them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.errors import UserFacingError
from bot.i18n import Msg
from bot.storage.models import GuildSettings, UsageCounts

if TYPE_CHECKING:
    from bot.storage import Store

MODES = ("std", "pro")


class Refusal(StrEnum):
    """Which rule refused the member (stable names for tests and logs)."""

    CHANNEL_DISABLED = "channel_disabled"
    MISSING_ROLE = "missing_role"
    UNKNOWN_MODE = "unknown_mode"
    PRO_NOT_ALLOWED = "pro_not_allowed"
    DAILY_LIMIT = "daily_jobs_per_member"
    CONCURRENT_LIMIT = "concurrent_jobs_per_guild"


class PolicyError(UserFacingError):
    """The member may not do this here (now); ``user_message`` explains why and until when.

    ``resets_at`` is the Unix time the refusal lifts by itself (the daily limit), else None.
    """

    def __init__(
        self, refusal: Refusal, user_message: str, *, resets_at: float | None = None
    ) -> None:
        super().__init__(user_message)
        self.refusal = refusal
        self.resets_at = resets_at


def _timestamp(now: float | datetime) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


def next_daily_reset(now: float | datetime) -> float:
    """Unix time of the next 00:00 UTC after ``now``: when daily counts start over."""
    moment = datetime.fromtimestamp(_timestamp(now), tz=UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + timedelta(days=1)).timestamp()


def describe_reset(resets_at: float) -> str:
    """ "<t:…:R> (00:00 UTC)": Discord shows the relative time in the reader's own clock."""
    return f"<t:{int(resets_at)}:R> (00:00 UTC)"  # the same in every language


def check_channel_enabled(
    settings: GuildSettings, channel_id: int, *, parent_channel_id: int | None = None
) -> None:
    """Refuse anything in a channel where admins turned the bot off; threads follow their parent."""
    disabled = settings.disabled_channels
    if channel_id in disabled or (parent_channel_id is not None and parent_channel_id in disabled):
        raise PolicyError(
            Refusal.CHANNEL_DISABLED,
            Msg(
                "The bot is disabled in this channel; a server admin can turn it back on with"
                " `/kling-admin settings`, or use another channel."
            ),
        )


def may_submit(
    settings: GuildSettings, *, member_role_ids: Collection[int], is_admin: bool
) -> bool:
    """Whether the member holds the submit role (no role set, or @everyone, means everyone)."""
    role = settings.submit_role_id
    return role is None or role == settings.guild_id or is_admin or role in member_role_ids


def check_can_submit(
    settings: GuildSettings,
    *,
    member_role_ids: Collection[int],
    channel_id: int,
    is_admin: bool,
    mode: str,
    usage: UsageCounts,
    active_jobs: int,
    now: float | datetime,
    parent_channel_id: int | None = None,
) -> None:
    """Raise :class:`PolicyError` unless the member may submit a paid job of ``mode`` now.

    ``is_admin`` (Manage Server or Administrator) skips only the role rule: admins can change
    the limits, and the stored limits apply to every job, so theirs count too. ``usage`` is the
    member's (``Store.member_usage``), ``active_jobs`` the server's (``Store.count_active_jobs``).
    Checked in this order: channel, role, mode, daily limit, then the server's running jobs
    (the daily limit comes first because waiting for a running job would not help).
    """
    check_channel_enabled(settings, channel_id, parent_channel_id=parent_channel_id)
    if not may_submit(settings, member_role_ids=member_role_ids, is_admin=is_admin):
        raise PolicyError(
            Refusal.MISSING_ROLE,
            Msg(
                "Only members with the <@&{role_id}> role can submit paid jobs on this server."
                " Marking points and previews are free and open to everyone.",
                role_id=settings.submit_role_id,
            ),
        )
    if mode not in MODES:
        raise PolicyError(
            Refusal.UNKNOWN_MODE, Msg("`{mode}` is not a mode; use std or pro.", mode=mode)
        )
    check_mode_allowed(settings, mode)
    _check_daily(settings.daily_jobs_per_member, usage, now)
    _check_concurrent(settings.concurrent_jobs_per_guild, active_jobs)


def check_mode_allowed(settings: GuildSettings, mode: str) -> None:
    """Refuse pro mode where the server turned it off (also when a plan picks its mode)."""
    if mode == "pro" and not settings.pro_allowed:
        raise PolicyError(
            Refusal.PRO_NOT_ALLOWED,
            Msg("Pro mode is turned off on this server; submit with mode std."),
        )


def _check_daily(limit: int | None, usage: UsageCounts, now: float | datetime) -> None:
    if limit is None or usage.jobs_today < limit:
        return
    resets_at = next_daily_reset(now)
    when = describe_reset(resets_at)
    if limit == 0:
        message = Msg(
            "This server allows no paid jobs per member today; the limit resets {when}.", when=when
        )
    elif limit == 1:
        message = Msg(
            "You have used your {limit} job for today; the limit resets {when}.",
            limit=limit,
            when=when,
        )
    else:
        message = Msg(
            "You have used your {limit} jobs for today; the limit resets {when}.",
            limit=limit,
            when=when,
        )
    raise PolicyError(Refusal.DAILY_LIMIT, message, resets_at=resets_at)


def _check_concurrent(limit: int | None, active_jobs: int) -> None:
    if limit is None or active_jobs < limit:
        return
    if limit == 0:
        message = Msg("Paid jobs are paused on this server (0 jobs may run at once).")
    elif active_jobs == 1:
        message = Msg(
            "This server already has {active} job running (its limit is {limit}); try"
            " again when one finishes.",
            active=active_jobs,
            limit=limit,
        )
    else:
        message = Msg(
            "This server already has {active} jobs running (its limit is {limit}); try"
            " again when one finishes.",
            active=active_jobs,
            limit=limit,
        )
    raise PolicyError(Refusal.CONCURRENT_LIMIT, message)


async def check_member_can_submit(
    store: Store,
    *,
    guild_id: int,
    user_id: int,
    member_role_ids: Collection[int],
    channel_id: int,
    is_admin: bool,
    mode: str,
    now: float | None = None,
    parent_channel_id: int | None = None,
) -> GuildSettings:
    """Load the settings and counts, then :func:`check_can_submit`; returns the settings.

    Pass the returned settings on as ``limits=JobLimits.from_settings(settings)`` when creating
    the job, so the insert re-checks the same limits atomically.
    """
    moment = store.now() if now is None else now
    settings = await store.get_settings(guild_id)
    # Refuse a disabled channel or a missing role without counting anything.
    check_channel_enabled(settings, channel_id, parent_channel_id=parent_channel_id)
    usage = UsageCounts()
    active = 0
    if may_submit(settings, member_role_ids=member_role_ids, is_admin=is_admin):
        if settings.daily_jobs_per_member is not None:
            usage = await store.member_usage(guild_id, user_id, now=moment)
        if settings.concurrent_jobs_per_guild is not None:
            active = await store.count_active_jobs(guild_id)
    check_can_submit(
        settings, member_role_ids=member_role_ids, channel_id=channel_id, is_admin=is_admin,
        mode=mode, usage=usage, active_jobs=active, now=moment,
        parent_channel_id=parent_channel_id,
    )  # fmt: skip
    return settings
