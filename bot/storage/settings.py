"""SQL for per-server settings (SPEC §8) and usage figures.

Usage counts only jobs Kling accepted (``submitted_at`` is set when Kling returns a task id), in
UTC calendar days and months.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from bot.storage.db import Database, Row, Tx
from bot.storage.jobs import ACTIVE_JOBS
from bot.storage.models import GuildSettings, GuildUsage, MemberUsage, UsageCounts

_MODES = ("std", "pro")
_SETTING_FIELDS = frozenset(f.name for f in dataclasses.fields(GuildSettings)) - {"guild_id"}


def day_and_month_start(now: float) -> tuple[float, float]:
    """Unix times of the start of ``now``'s UTC day and UTC month."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp(), day.replace(day=1).timestamp()


def _validate(settings: GuildSettings) -> None:
    if settings.default_mode not in _MODES:
        raise ValueError(f"default_mode must be one of {_MODES}")
    for name in ("daily_jobs_per_member", "concurrent_jobs_per_guild"):
        value = getattr(settings, name)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be a non-negative integer or None")


class SettingsQueries(Database):
    async def get_settings(self, guild_id: int) -> GuildSettings:
        """The server's settings, defaults for anything never changed."""

        async def body(tx: Tx) -> GuildSettings:
            return await _read_settings_row(tx, guild_id)

        return await self._read(body)

    async def update_settings(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Change some settings (names as in :class:`GuildSettings`); returns the new whole."""
        unknown = set(changes) - _SETTING_FIELDS
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        if "disabled_channels" in changes:
            changes["disabled_channels"] = frozenset(int(c) for c in changes["disabled_channels"])
        now = self.now()

        async def body(tx: Tx) -> None:
            # Read and write in one transaction so concurrent admins do not undo each other.
            current = await _read_settings_row(tx, guild_id)
            new = dataclasses.replace(current, **changes)
            _validate(new)
            await tx.execute(
                "INSERT INTO guild_settings (guild_id, submit_role_id, daily_jobs_per_member,"
                " concurrent_jobs_per_guild, default_mode, pro_allowed, confirm_submits,"
                " sessions_in_threads, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET"
                " submit_role_id = excluded.submit_role_id,"
                " daily_jobs_per_member = excluded.daily_jobs_per_member,"
                " concurrent_jobs_per_guild = excluded.concurrent_jobs_per_guild,"
                " default_mode = excluded.default_mode, pro_allowed = excluded.pro_allowed,"
                " confirm_submits = excluded.confirm_submits,"
                " sessions_in_threads = excluded.sessions_in_threads,"
                " updated_at = excluded.updated_at",
                (
                    guild_id, new.submit_role_id, new.daily_jobs_per_member,
                    new.concurrent_jobs_per_guild, new.default_mode, int(new.pro_allowed),
                    int(new.confirm_submits), int(new.sessions_in_threads), now,
                ),
            )  # fmt: skip
            if "disabled_channels" in changes:
                await tx.execute("DELETE FROM disabled_channels WHERE guild_id = ?", (guild_id,))
                await tx.executemany(
                    "INSERT INTO disabled_channels (guild_id, channel_id) VALUES (?, ?)",
                    [(guild_id, c) for c in sorted(new.disabled_channels)],
                )

        await self._write(body)
        return await self.get_settings(guild_id)

    async def set_channel_disabled(self, guild_id: int, channel_id: int, disabled: bool) -> None:
        async def body(tx: Tx) -> None:
            if disabled:
                await tx.execute(
                    "INSERT INTO disabled_channels (guild_id, channel_id) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (guild_id, channel_id),
                )
            else:
                await tx.execute(
                    "DELETE FROM disabled_channels WHERE guild_id = ? AND channel_id = ?",
                    (guild_id, channel_id),
                )

        await self._write(body)

    # -- usage -----------------------------------------------------------------------------

    async def member_usage(
        self, guild_id: int, user_id: int, *, now: float | None = None
    ) -> UsageCounts:
        """Jobs Kling accepted for this member, and units spent, today and this month (UTC)."""
        day, month = day_and_month_start(self.now() if now is None else now)
        row = await self._fetchone(
            f"SELECT {_USAGE_COLUMNS} FROM jobs"  # noqa: S608
            " WHERE guild_id = ? AND requester_id = ? AND submitted_at >= ?",
            (day, day, guild_id, user_id, month),
        )
        return _usage(row)

    async def guild_usage(self, guild_id: int, *, now: float | None = None) -> GuildUsage:
        """The server's totals and one line per member, today and this month (UTC)."""
        day, month = day_and_month_start(self.now() if now is None else now)
        total = await self._fetchone(
            f"SELECT {_USAGE_COLUMNS} FROM jobs"  # noqa: S608
            " WHERE guild_id = ? AND submitted_at >= ?",
            (day, day, guild_id, month),
        )
        rows = await self._fetchall(
            f"SELECT requester_id, {_USAGE_COLUMNS} FROM jobs"  # noqa: S608
            " WHERE guild_id = ? AND submitted_at >= ? GROUP BY requester_id"
            " ORDER BY jobs_month DESC, requester_id",
            (day, day, guild_id, month),
        )
        members = tuple(MemberUsage(int(r["requester_id"]), _usage(r)) for r in rows)
        return GuildUsage(total=_usage(total), members=members)

    async def count_active_jobs(self, guild_id: int, *, user_id: int | None = None) -> int:
        """Jobs of the server (or member) queued here or running at Kling right now."""
        sql = f"SELECT COUNT(*) AS n FROM jobs WHERE guild_id = ? AND {ACTIVE_JOBS}"  # noqa: S608
        params: list[Any] = [guild_id]
        if user_id is not None:
            sql += " AND requester_id = ?"
            params.append(user_id)
        row = await self._fetchone(sql, params)
        return int(row["n"]) if row else 0


_USAGE_COLUMNS = (
    "COALESCE(SUM(CASE WHEN submitted_at >= ? THEN 1 ELSE 0 END), 0) AS jobs_today,"
    " COUNT(*) AS jobs_month,"
    " COALESCE(SUM(CASE WHEN submitted_at >= ? THEN units END), 0.0) AS units_today,"
    " COALESCE(SUM(units), 0.0) AS units_month"
)


def _usage(row: Row | None) -> UsageCounts:
    if row is None:
        return UsageCounts()
    return UsageCounts(
        jobs_today=int(row["jobs_today"]),
        jobs_month=int(row["jobs_month"]),
        units_today=float(row["units_today"]),
        units_month=float(row["units_month"]),
    )


_DISABLED = "SELECT channel_id FROM disabled_channels WHERE guild_id = ?"


async def _read_settings_row(tx: Tx, guild_id: int) -> GuildSettings:
    row = await tx.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
    return _settings(guild_id, row, await tx.fetchall(_DISABLED, (guild_id,)))


def _settings(guild_id: int, row: Row | None, disabled_rows: list[Row]) -> GuildSettings:
    disabled = frozenset(int(r["channel_id"]) for r in disabled_rows)
    if row is None:
        return GuildSettings(guild_id=guild_id, disabled_channels=disabled)
    return GuildSettings(
        guild_id=guild_id,
        submit_role_id=row["submit_role_id"],
        daily_jobs_per_member=row["daily_jobs_per_member"],
        concurrent_jobs_per_guild=row["concurrent_jobs_per_guild"],
        default_mode=row["default_mode"],
        pro_allowed=bool(row["pro_allowed"]),
        confirm_submits=bool(row["confirm_submits"]),
        sessions_in_threads=bool(row["sessions_in_threads"]),
        disabled_channels=disabled,
    )
