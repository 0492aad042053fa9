"""Which jobs this process runs, and its claims on them in the database (SPEC §11).

Several processes may share one database. Each runs only the jobs of the servers on its shards
(:class:`bot.shards.ShardSet`), and the database guarantees it even when two processes are
misconfigured with the same shards: a job is claimed (an owner id and a lease that expires, see
``bot/storage/claims.py``) before this process makes any Kling or Discord call for it.

- A job enters the runner's table only claimed: at start, when submitted here, or when found
  free by the periodic look (``beat``); a job whose claim fails is left to its holder.
- Every step confirms the claim first (:meth:`Ownership.hold`, right after ``JobTable.take``):
  a lease known to have more than half of its length left needs no statement (nobody else can
  take the job before it ends); otherwise all of this owner's leases are renewed at once and,
  if this one was not among them, the job is claimed again; a job whose claim fails is
  forgotten like one another actor moved on (no Kling or Discord call for it).
- The heartbeat (``JobRunner._beat``), every third of a lease, renews all of this owner's leases
  in one statement, forgets the jobs it no longer holds (the process stalled past its lease and
  another took over), and takes up the jobs of its shards that nobody holds: those of a process
  that stopped cleanly (it released them) or died (its leases ran out; at once when it ran in
  this very process space, where a pid tells whether it still runs).
- A clean stop releases this owner's claims, so a restart (or another process) resumes at once.

Leases are compared with the clock of each process (through the store): machines sharing one
database need their clocks in step to well within a lease.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.jobs.record import Recorder
from bot.jobs.schedule import RunnerConfig
from bot.jobs.table import JobTable
from bot.shards import ShardSet
from bot.storage import Job, Store

log = logging.getLogger("bot.jobs.runner")


def new_owner_id() -> str:
    """This process's name on its claims: where it runs (see :func:`_place`), its pid, and a
    random part (a pid can come back)."""
    return f"{_place()}:{os.getpid()}:{secrets.token_hex(4)}"


def _place() -> str:
    """The host name, and on Linux which process space of which boot of the machine: two
    processes with the same place see each other's pids (containers that share a host name,
    e.g. on the host's network, each have their own)."""
    host = socket.gethostname().replace(":", "_").replace("/", "_")[:60]
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        space = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return f"{host}/?"
    return f"{host}/{hashlib.sha256(f'{boot}/{space}'.encode()).hexdigest()[:12]}"


def gone_from_here(owner: str, me: str) -> bool:
    """Whether ``owner`` names a process that no longer runs, of the same place as this one
    (``me`` is this process's owner id): its claims need not wait for their leases to run out,
    so a bot killed and started again on the same machine resumes its jobs at once.

    Only provable here: the same place (same pids), and its pid is this process's (a pid is one
    process at a time: that owner was an earlier one) or no process's. Anything else waits for
    the lease.
    """
    parts, mine = owner.split(":"), me.split(":")
    if len(parts) != 3 or not parts[1].isdigit() or parts[0] != mine[0] or mine[0].endswith("/?"):
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return owner != me
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (another user's, perhaps)
    return False


class Ownership:
    def __init__(
        self,
        *,
        store: Store,
        table: JobTable,
        recorder: Recorder,
        shards: ShardSet,
        owner: str,
        config: RunnerConfig,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.table = table
        self.recorder = recorder
        self.shards = shards
        self.owner = owner
        self.lease = config.claim_lease
        self.clock = clock
        self._renewing: asyncio.Future[None] | None = None

    def owns(self, job: Job) -> bool:
        """Whether the job's server is on this process's shards."""
        return self.shards.owns(job.guild_id)

    async def claim(self, jobs: Iterable[Job]) -> list[Job]:
        """Claim those of ``jobs`` on this process's shards that nobody else holds, and keep
        them in the table as held; the jobs claimed, as stored (the caller schedules them)."""
        mine = [job.id for job in jobs if self.owns(job)]
        if not mine:
            return []
        until = self.clock() + self.lease  # not later than the stored lease end
        claimed = await self.store.claim_jobs(mine, owner=self.owner, lease=self.lease)
        for job in claimed:
            self.table.remember(job)
            self.table.hold(job.id, until)
        return claimed

    async def hold(self, job_id: str) -> bool:
        """Make sure this process holds the job before a step calls Kling or Discord for it.

        False when it must not act: the job is forgotten (another process holds it) or, when
        the database had moved it on meanwhile, taken up again in its stored state.
        """
        if self.table.lease_left(job_id, self.clock()) > self.lease / 2:
            return True
        # The heartbeat is late (or the clock jumped): renew every lease at once, not just
        # this one, so that the steps due next need no statement of their own.
        await self.renew()
        now = self.clock()
        if self.table.lease_left(job_id, now) > self.lease / 2:
            return True
        claimed = await self.store.claim_job(job_id, owner=self.owner, lease=self.lease)
        if claimed is None:
            log.info("job %s is held by another process; leaving it to that one", job_id)
            self.table.forget(job_id)
            return False
        self.table.hold(job_id, now + self.lease)
        held = self.table.get(job_id)
        if held is None:
            return False  # forgotten meanwhile
        if claimed.state is not held.state:
            # The lease had run out and another process moved the job: start from its state.
            self.recorder.adopt(claimed)
            return False
        self.table.remember(claimed)
        return True

    async def confirm(self, job_id: str) -> None:
        """Claim a job taken into the table without a claim; forget it if another holds it."""
        if job_id not in self.table or self.table.lease_left(job_id, self.clock()):
            return
        until = self.clock() + self.lease
        if await self.store.claim_job(job_id, owner=self.owner, lease=self.lease) is None:
            self._lost(job_id)
        else:
            self.table.hold(job_id, until)

    async def renew(self) -> None:
        """Renew every lease of this owner in one statement; forget the jobs another process
        took over; claim the jobs of the table not claimed yet (``JobRunner.enqueue``).

        Callers at the same time share one renewal."""
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.ensure_future(self._renew())
        await asyncio.shield(self._renewing)

    async def _renew(self) -> None:
        until = self.clock() + self.lease
        # Judged only by the leases known before the statement: a claim made meanwhile (a step,
        # a job just queued) is newer than what the statement saw.
        before = {job_id: self.table.lease_end(job_id) for job_id in self.table.held_ids()}
        renewed = await self.store.renew_claims(owner=self.owner, lease=self.lease)
        for job_id, seen in before.items():
            if job_id in renewed:
                self.table.hold(job_id, max(until, self.table.lease_end(job_id)))
            elif self.table.lease_end(job_id) == seen:
                self._lost(job_id)
        unheld = [job_id for job_id in self.table.ids() if not self.table.lease_end(job_id)]
        if unheld:
            claimed = await self.store.claim_jobs(unheld, owner=self.owner, lease=self.lease)
            for job_id in {job.id for job in claimed}:
                self.table.hold(job_id, until)
            for job_id in set(unheld) - {job.id for job in claimed}:
                if not self.table.lease_end(job_id):
                    self._lost(job_id)

    def _lost(self, job_id: str) -> None:
        if self.table.busy(job_id):
            # Left to the step running for it: its compare-and-set writes refuse whatever the
            # new holder did, and its next step fails to claim the job and forgets it.
            return
        log.warning("job %s: this process does not hold it (any more); forgetting it", job_id)
        self.table.forget(job_id)

    async def release_the_gone(self) -> None:
        """Release the claims of processes of this place that no longer run (killed, crashed)."""
        for holder in await self.store.claim_holders(besides=self.owner):
            if gone_from_here(holder, self.owner):
                released = await self.store.release_claims(owner=holder)
                log.info("released %d job claims of %s, which no longer runs", released, holder)

    async def unclaimed(self) -> list[Job]:
        """Jobs of this process's shards in flight that it does not hold and nobody else does
        (free, or their holder's lease ran out): claimed now, for the caller to take up."""
        free = await self.store.claimable_jobs(owner=self.owner)
        return await self.claim(job for job in free if job.id not in self.table)

    async def release(self) -> None:
        """Give up every claim of this owner (a clean stop): the jobs can be resumed at once."""
        if self._renewing is not None:  # a renewal still running would claim again after this
            await asyncio.wait([self._renewing])
        released = await self.store.release_claims(owner=self.owner)
        if released:
            log.info("released %d job claims", released)
