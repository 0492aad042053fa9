"""SQL for the claims on jobs: which process holds a job, and until when (SPEC §11).

A claim is an owner id and a lease end on the job's row. Every change is one conditional
``UPDATE … RETURNING`` (atomic on its own on both backends), so of several processes asking for
the same job at once exactly one gets it, and a process can take a job over only once its holder's
lease has run out. A claim never changes the job's state or ``updated_at``: it says who may act,
not what happened.

Leases are compared with the store's clock (``Store.now``): processes on several machines need
clocks in step to well within a lease (NTP does that).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.storage.db import Database
from bot.storage.jobs import _RETURNING, _job
from bot.storage.models import IN_FLIGHT_STATES, Job

# Ids per statement when claiming many jobs at once (SQLite allows 32,766 parameters).
_CHUNK = 500
_IN_FLIGHT = "state IN (" + ", ".join(f"'{state.value}'" for state in IN_FLIGHT_STATES) + ")"
# Nobody holds the job, this owner does, or the holder's lease is over.
_CLAIMABLE = "(claimed_by IS NULL OR claimed_by = ? OR claim_until < ?)"


class ClaimQueries(Database):
    async def claim_jobs(self, job_ids: Sequence[str], *, owner: str, lease: float) -> list[Job]:
        """Claim (or renew) each job that is free, already ``owner``'s, or whose lease is over;
        the jobs claimed, as stored. The others are held by another process: leave them alone.
        """
        now = self.now()
        claimed: list[Job] = []
        for start in range(0, len(job_ids), _CHUNK):
            chunk = list(job_ids[start : start + _CHUNK])
            marks = ", ".join("?" * len(chunk))
            sql = (
                "UPDATE jobs SET claimed_by = ?, claim_until = ?"  # noqa: S608
                f" WHERE id IN ({marks}) AND {_CLAIMABLE} {_RETURNING}"
            )
            rows = await self._write_statement(sql, [owner, now + lease, *chunk, owner, now])
            claimed += [_job(row) for row in rows]
        return claimed

    async def claim_job(self, job_id: str, *, owner: str, lease: float) -> Job | None:
        """:meth:`claim_jobs` for one job: the job, or None when another process holds it."""
        claimed = await self.claim_jobs([job_id], owner=owner, lease=lease)
        return claimed[0] if claimed else None

    async def renew_claims(self, *, owner: str, lease: float) -> set[str]:
        """Extend every lease ``owner`` still holds on a job in flight, in one statement; the
        ids renewed. A job held before but missing here was taken over (or ended)."""
        sql = (
            "UPDATE jobs SET claim_until = ?"  # noqa: S608
            f" WHERE claimed_by = ? AND {_IN_FLIGHT} RETURNING id"
        )
        rows = await self._write_statement(sql, [self.now() + lease, owner])
        return {row["id"] for row in rows}

    async def release_claims(self, *, owner: str, job_ids: Iterable[str] | None = None) -> int:
        """Give up ``owner``'s claims (all of them, or those of ``job_ids``) so that another
        process, or this one restarted, takes the jobs up at once; how many were released."""
        sql = "UPDATE jobs SET claimed_by = NULL, claim_until = NULL WHERE claimed_by = ?"
        params: list[object] = [owner]
        if job_ids is not None:
            ids = list(job_ids)
            if not ids:
                return 0
            sql += f" AND id IN ({', '.join('?' * len(ids))})"
            params += ids
        rows = await self._write_statement(sql + " RETURNING id", params)
        return len(rows)

    async def claimable_jobs(self, *, owner: str) -> list[Job]:
        """Jobs in flight that ``owner`` may claim now (nobody holds them, ``owner`` does, or the
        lease ran out), oldest in the queue first."""
        rows = await self._fetchall(
            f"SELECT rowid AS seq, * FROM jobs WHERE {_IN_FLIGHT} AND {_CLAIMABLE}"  # noqa: S608
            " ORDER BY COALESCE(queued_at, created_at), rowid",
            [owner, self.now()],
        )
        return [_job(row) for row in rows]

    async def claim_holders(self, *, besides: str) -> set[str]:
        """The owners, other than ``besides``, holding a claim on a job in flight."""
        rows = await self._fetchall(
            f"SELECT DISTINCT claimed_by FROM jobs WHERE claimed_by IS NOT NULL"  # noqa: S608
            f" AND claimed_by <> ? AND {_IN_FLIGHT}",
            [besides],
        )
        return {row["claimed_by"] for row in rows}

    async def job_claim(self, job_id: str) -> tuple[str | None, float | None]:
        """Who holds the job and until when (None, None: nobody)."""
        row = await self._fetchone(
            "SELECT claimed_by, claim_until FROM jobs WHERE id = ?", [job_id]
        )
        return (row["claimed_by"], row["claim_until"]) if row else (None, None)
