"""SQL for jobs and their event log.

Every state change is a compare-and-set (``UPDATE … WHERE state IN (…)``) plus a ``job_events`` row
in the same transaction, so two actors (or a restarted process replaying old work) can never both
move a job out of the same state: exactly one of them sees the row change.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.storage.db import Database, Row, Tx
from bot.storage.models import (
    IN_FLIGHT_STATES,
    Job,
    JobEvent,
    JobKind,
    JobLimits,
    JobState,
    NewJob,
    QuotaExceededError,
)

# Columns a transition may set besides ``state``; anything else is a programming error.
_SETTABLE = frozenset(
    {
        "kling_task_id",
        "status_msg",
        "card_message_id",
        "queued_at",
        "units",
        "result_url",
        "result_path",
        "result_message_id",
        "submitted_at",
        "finished_at",
        "delivered_at",
    }
)
# Jobs that hold (or will hold) one of Kling's slots. Spelled exactly as in the partial index
# ``jobs_active_by_guild`` (migration 0005): SQLite uses a partial index only for a query whose
# WHERE contains its condition word for word (bound parameters would not do).
ACTIVE_JOBS = "state IN ('queued', 'submitting', 'submitted', 'processing')"
# Discord message nonces are at most 25 characters; the key doubles as one.
DELIVERY_KEY_LENGTH = 25


_RETURNING = "RETURNING rowid AS seq, *"


def delivery_key_for(job_id: str) -> str:
    return f"{job_id[:DELIVERY_KEY_LENGTH]}"


def _job(row: Row) -> Job:
    return Job(
        id=row["id"],
        kind=JobKind(row["kind"]),
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        requester_id=row["requester_id"],
        session_id=row["session_id"],
        request=json.loads(row["request_json"]),
        state=JobState(row["state"]),
        kling_task_id=row["kling_task_id"],
        status_msg=row["status_msg"],
        card_message_id=row["card_message_id"],
        queued_at=row["queued_at"],
        submit_attempts=row["submit_attempts"],
        units=row["units"],
        result_url=row["result_url"],
        result_path=row["result_path"],
        result_message_id=row["result_message_id"],
        delivery_key=row["delivery_key"],
        delivery_attempts=row["delivery_attempts"],
        created_at=row["created_at"],
        submitted_at=row["submitted_at"],
        finished_at=row["finished_at"],
        delivered_at=row["delivered_at"],
        updated_at=row["updated_at"],
        seq=row["seq"],
    )


def _assignments(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    unknown = set(fields) - _SETTABLE
    if unknown:
        raise ValueError(f"not settable on a job: {sorted(unknown)}")
    names = sorted(fields)
    return "".join(f", {name} = ?" for name in names), [fields[name] for name in names]


class JobQueries(Database):
    async def create_job(self, new: NewJob, *, limits: JobLimits | None = None) -> Job:
        """Insert a job in state ``queued`` (its first event is logged by a trigger).

        With ``limits``, the server's limits are checked in the same transaction as the insert,
        so concurrent submits cannot overshoot them; raises :class:`QuotaExceededError`.
        Counted against the daily limit: the member's jobs created today (UTC) that Kling
        accepted or that are still waiting to be sent; refused and cancelled ones are free.
        """
        now = self.now()
        job_id = new.job_id or uuid.uuid4().hex
        insert = (
            "INSERT INTO jobs (id, kind, guild_id, channel_id, requester_id, session_id,"
            " request_json, state, queued_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?) RETURNING rowid AS seq, *"
        )
        params = (
            job_id, new.kind.value, new.guild_id, new.channel_id, new.requester_id,
            new.session_id, json.dumps(new.request, separators=(",", ":")), now, now, now,
        )  # fmt: skip
        if limits is None or limits == JobLimits():
            return _job((await self._write_statement(insert, params))[0])

        async def body(tx: Tx) -> Job:
            await _check_limits(tx, new, limits, now)
            rows = await tx.fetchall(insert, params)
            return _job(rows[0])

        return await self._write(body)

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._fetchone("SELECT rowid AS seq, * FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    async def transition_job(
        self,
        job_id: str,
        *,
        from_states: Iterable[JobState],
        to: JobState,
        detail: str | None = None,
        **fields: Any,
    ) -> Job | None:
        """Move the job to ``to`` only if it is in one of ``from_states``; None otherwise.

        Entering ``submitting`` counts a submit attempt. ``fields`` set columns in the same
        statement (see ``_SETTABLE``).
        """
        sources = [state.value for state in from_states]
        if not sources:
            raise ValueError("from_states is empty")
        extra, values = _assignments(fields)
        if to is JobState.SUBMITTING:
            extra += ", submit_attempts = submit_attempts + 1"
        marks = ",".join("?" * len(sources))
        sql = (
            f"UPDATE jobs SET state = ?, updated_at = ?, event_detail = ?{extra}"  # noqa: S608
            f" WHERE id = ? AND state IN ({marks}) {_RETURNING}"
        )
        return await self._cas(sql, [to.value, self.now(), detail, *values, job_id, *sources])

    async def update_job(self, job_id: str, **fields: Any) -> Job | None:
        """Set columns without a state change (result path, card message id, …)."""
        extra, values = _assignments(fields)
        if not extra:
            return await self.get_job(job_id)
        sql = f"UPDATE jobs SET updated_at = ?{extra} WHERE id = ? {_RETURNING}"  # noqa: S608
        rows = await self._write_statement(sql, (self.now(), *values, job_id))
        return _job(rows[0]) if rows else None

    async def set_card_message(self, job_id: str, message_id: int | None) -> Job | None:
        return await self.update_job(job_id, card_message_id=message_id)

    async def claim_delivery(self, job_id: str) -> Job | None:
        """``succeeded`` → ``delivering``; succeeds for exactly one caller per job."""
        sql = (
            "UPDATE jobs SET state = 'delivering', updated_at = ?, event_detail = 'claimed',"
            " delivery_attempts = delivery_attempts + 1, delivery_key = ?"
            " WHERE id = ? AND state = 'succeeded' RETURNING rowid AS seq, *"
        )
        return await self._cas(sql, [self.now(), delivery_key_for(job_id), job_id])

    async def reclaim_delivery(self, job_id: str, attempts_seen: int) -> Job | None:
        """Take over a ``delivering`` job whose previous attempt did not finish.

        Compare-and-set on ``delivery_attempts``: of several callers that saw the same attempt
        number, one wins. The winner must check whether the earlier attempt already posted.
        """
        sql = (
            "UPDATE jobs SET state = 'delivering', updated_at = ?, event_detail = 'reclaimed',"
            " delivery_attempts = delivery_attempts + 1"
            " WHERE id = ? AND state = 'delivering' AND delivery_attempts = ?"
            " RETURNING rowid AS seq, *"
        )
        return await self._cas(sql, [self.now(), job_id, attempts_seen])

    async def mark_delivered(self, job_id: str, message_id: int) -> Job | None:
        """``delivering`` → ``delivered`` with the posted message's id."""
        return await self.transition_job(
            job_id,
            from_states=[JobState.DELIVERING],
            to=JobState.DELIVERED,
            result_message_id=message_id,
            delivered_at=self.now(),
        )

    async def cancel_job(self, job_id: str, reason: str | None = None) -> Job | None:
        """Cancel a job that Kling has not seen yet (state ``queued``)."""
        return await self.transition_job(
            job_id,
            from_states=[JobState.QUEUED],
            to=JobState.CANCELLED,
            detail=reason,
            status_msg=reason,
            finished_at=self.now(),
        )

    async def _cas(self, sql: str, params: list[Any]) -> Job | None:
        # One statement: the row changes only if it still matches, and the trigger of
        # migration 0002 logs the event inside the same statement.
        rows = await self._write_statement(sql, params)
        return _job(rows[0]) if rows else None

    # -- reading ---------------------------------------------------------------------------

    async def list_in_flight_jobs(self) -> list[Job]:
        """Every job not yet delivered, failed or cancelled, oldest in the queue first."""
        marks = ",".join("?" * len(IN_FLIGHT_STATES))
        rows = await self._fetchall(
            f"SELECT rowid AS seq, * FROM jobs WHERE state IN ({marks})"  # noqa: S608
            " ORDER BY COALESCE(queued_at, created_at), rowid",
            [s.value for s in IN_FLIGHT_STATES],
        )
        return [_job(r) for r in rows]

    async def list_job_events(self, job_id: str) -> list[JobEvent]:
        rows = await self._fetchall(
            "SELECT * FROM job_events WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [
            JobEvent(
                job_id=r["job_id"],
                from_state=JobState(r["from_state"]) if r["from_state"] else None,
                to_state=JobState(r["to_state"]),
                at=r["at"],
                detail=r["detail"],
            )
            for r in rows
        ]

    async def recent_jobs(
        self, guild_id: int, *, user_id: int | None = None, limit: int = 20
    ) -> list[Job]:
        """The server's (or one member's) latest jobs, newest first."""
        if user_id is None:
            rows = await self._fetchall(
                "SELECT rowid AS seq, * FROM jobs WHERE guild_id = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (guild_id, limit),
            )
        else:
            rows = await self._fetchall(
                "SELECT rowid AS seq, * FROM jobs WHERE guild_id = ? AND requester_id = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (guild_id, user_id, limit),
            )
        return [_job(r) for r in rows]

    async def session_jobs(self, session_id: int, *, limit: int = 20) -> list[Job]:
        rows = await self._fetchall(
            "SELECT rowid AS seq, * FROM jobs WHERE session_id = ?"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (session_id, limit),
        )
        return [_job(r) for r in rows]

    async def queued_jobs(self, guild_id: int | None = None) -> list[Job]:
        """Jobs waiting in the local queue, in the order they will be sent."""
        where, params = ("state = 'queued'", [])
        if guild_id is not None:
            where, params = ("state = 'queued' AND guild_id = ?", [guild_id])
        rows = await self._fetchall(
            f"SELECT rowid AS seq, * FROM jobs WHERE {where} ORDER BY queued_at, rowid",  # noqa: S608
            params,
        )
        return [_job(r) for r in rows]

    async def average_job_seconds(self, kind: JobKind, *, sample: int = 50) -> float | None:
        """Mean time from Kling accepting to Kling finishing over the last ``sample`` successes."""
        row = await self._fetchone(
            "SELECT AVG(finished_at - submitted_at) AS avg FROM ("
            " SELECT finished_at, submitted_at FROM jobs"
            " WHERE kind = ? AND state IN ('succeeded', 'delivering', 'delivered')"
            " AND submitted_at IS NOT NULL AND finished_at IS NOT NULL"
            " ORDER BY finished_at DESC LIMIT ?) AS recent",
            (kind.value, sample),
        )
        return float(row["avg"]) if row and row["avg"] is not None else None


async def _count(tx: Tx, sql: str, params: tuple[Any, ...]) -> int:
    row = await tx.fetchone(sql, params)
    return int(row[0]) if row else 0


async def _check_limits(tx: Tx, new: NewJob, limits: JobLimits, now: float) -> None:
    if limits.concurrent_jobs_per_guild is not None:
        active = await _count(
            tx,
            f"SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND {ACTIVE_JOBS}",  # noqa: S608
            (new.guild_id,),
        )
        if active >= limits.concurrent_jobs_per_guild:
            raise QuotaExceededError(
                "concurrent_jobs_per_guild",
                current=active,
                maximum=limits.concurrent_jobs_per_guild,
                resets_at=None,
            )
    if limits.daily_jobs_per_member is not None:
        moment = datetime.fromtimestamp(now, tz=UTC)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        today = await _count(
            tx,
            "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND requester_id = ?"
            " AND created_at >= ?"
            " AND (submitted_at IS NOT NULL OR state IN ('queued', 'submitting'))",
            (new.guild_id, new.requester_id, day.timestamp()),
        )
        if today >= limits.daily_jobs_per_member:
            raise QuotaExceededError(
                "daily_jobs_per_member",
                current=today,
                maximum=limits.daily_jobs_per_member,
                resets_at=(day + timedelta(days=1)).timestamp(),
            )
