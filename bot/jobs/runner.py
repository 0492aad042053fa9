"""The job runner: drives every job from the local queue to a posted video (SPEC §5).

It is made of parts with one role each, sharing one table of the jobs in memory
(``table.py``, :class:`JobTable`):

- the **scheduler** (``scheduler.py``): one long-lived task that starts each job's next step when
  it is due, with bounded concurrency, and one submission at a time while the gate is open;
- the **submitter** (``submitter.py``): sends queued jobs to Kling and never creates one twice
  (``queued → submitting`` is stored before the call; an unknown outcome is looked up by
  ``external_task_id`` before anything is resent; 1303 puts the job back at its old place and
  closes the **gate**, ``schedule.SubmissionGate``);
- the **poller** (``poller.py``): polls accepted jobs with backoff until they end, reports
  progress, fails them past the time limit;
- **delivery** (``delivery.py``): downloads the result and posts it exactly once (the argument
  is in that module's docstring);
- the **recorder** (``record.py``): how any part stores a state change, adopts the database's
  view when another actor moved a job, and tells the observer;
- **unexpected errors** (``unexpected.py``): a step that raises is tried again later, and the
  job fails after too many in a row.

- **ownership** (``ownership.py``): with several processes sharing one database (SPEC §11), this
  process runs only the jobs of the servers on its shards, and claims each job in the database
  before any Kling or Discord call for it.

Every step of every job starts in one place, :meth:`JobTable.take`, and the step wrapper then
confirms this process's claim on the job (``Ownership.hold``). :class:`JobRunner` assembles the
parts and is what the rest of the bot uses: ``start``/``stop``, ``submit``, ``enqueue``,
``cancel``, ``poll_soon`` and ``announce`` (a callback), the queue places and estimates shown on
job cards, and ``stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from bot.i18n import Msg
from bot.jobs.delivery import Delivery
from bot.jobs.ownership import Ownership, new_owner_id
from bot.jobs.poller import RUNNING, Poller
from bot.jobs.protocols import Deliverer, JobObserver, NullObserver, TaskBackend
from bot.jobs.record import Recorder, RunnerStats
from bot.jobs.schedule import RunnerConfig, SubmissionGate
from bot.jobs.scheduler import Scheduler
from bot.jobs.submitter import Submitter
from bot.jobs.table import JobTable
from bot.jobs.unexpected import UnexpectedErrors
from bot.shards import ShardSet
from bot.storage import Job, JobKind, JobLimits, JobState, NewJob, Store
from bot.storage.db import Listening

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

__all__ = ["JOB_NEWS", "JobRunner", "RunnerStats"]

# The notification channel on which a process tells every runner sharing its database that
# something happened to a job (Kling called back for it): the one holding the job acts on it.
JOB_NEWS = "kling_job"


class JobRunner:
    def __init__(
        self,
        store: Store,
        backend: TaskBackend,
        deliverer: Deliverer,
        *,
        media_dir: Path,
        http: aiohttp.ClientSession,
        observer: JobObserver | None = None,
        config: RunnerConfig | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        shards: ShardSet | None = None,
        owner: str | None = None,
    ) -> None:
        """``shards``: the servers whose jobs this process runs (default: all of them);
        ``owner``: this process's name on its claims (default: host, pid and a random part)."""
        self.store = store
        self.backend = backend
        self.deliverer = deliverer
        self.observer: JobObserver = observer or NullObserver()
        self.config = config or RunnerConfig()
        self.media_dir = media_dir
        self.http = http
        self.clock = clock
        self._sleep = sleep
        self.stats = RunnerStats()
        self.shards = shards or ShardSet()
        self.owner = owner or new_owner_id()
        self._listening: Listening | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._assemble()

    def _assemble(self) -> None:
        """Fresh parts around an empty table: after a stop, the database is the only truth."""
        config, clock, stats = self.config, self.clock, self.stats
        table = self.table = JobTable()
        recorder = self.recorder = Recorder(self.store, table, self.observer, config, clock)
        self.gate = SubmissionGate(config, clock, wake=lambda: self.scheduler.wake())
        self.poller = Poller(
            store=self.store, table=table, recorder=recorder, backend=self.backend,
            gate=self.gate, config=config, clock=clock, stats=stats,
        )  # fmt: skip
        self.submitter = Submitter(
            store=self.store, table=table, recorder=recorder, backend=self.backend,
            gate=self.gate, poller=self.poller, config=config, clock=clock, stats=stats,
        )  # fmt: skip
        self.delivery = Delivery(
            store=self.store, table=table, recorder=recorder, deliverer=self.deliverer,
            http=self.http, media_dir=self.media_dir, config=config, clock=clock, stats=stats,
        )  # fmt: skip
        self.unexpected = UnexpectedErrors(
            table=table, recorder=recorder, delivery=self.delivery, config=config, clock=clock,
            stats=stats,
        )  # fmt: skip
        self.ownership = Ownership(
            store=self.store, table=table, recorder=recorder, shards=self.shards,
            owner=self.owner, config=config, clock=clock,
        )  # fmt: skip
        self.scheduler = Scheduler(
            table=table, gate=self.gate, sleep=self._sleep, stats=stats,
            call=self._next_call, deliver=self.delivery.deliver, submit=self.submitter.submit,
            went_well=self.unexpected.went_well, crashed=self.unexpected.crashed,
            config=config, clock=clock, hold=self.ownership.hold,
        )  # fmt: skip

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume the in-flight jobs of this process's shards that no other process holds, and
        start the scheduler."""
        if self.scheduler.running:
            raise RuntimeError("the runner is already running")
        self._assemble()
        await self.poller.load_estimates()
        await self.ownership.release_the_gone()
        resumed = await self.ownership.claim(await self.store.list_in_flight_jobs())
        self._take_up(resumed)
        if resumed:
            log.info("resuming %d in-flight jobs", len(resumed))
        self._listening = await self.store.listen(JOB_NEWS, self._heard)
        self.scheduler.start()
        self._heartbeat = asyncio.create_task(self._beat_forever(), name="kling-job-claims")

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop scheduling; give running steps ``grace`` seconds, then cancel them; release this
        process's claims so that its jobs are resumed at once (by a restart or another process).

        Database writes already started still complete (the store shields them), so whatever a
        cancelled step leaves behind is a state the next start resumes from.
        """
        if self._listening is not None:
            listening, self._listening = self._listening, None
            with contextlib.suppress(Exception):
                await listening.stop()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        await self.scheduler.stop(grace=grace)
        try:
            await self.ownership.release()
        except Exception:
            # Not fatal: the leases run out by themselves.
            log.warning(
                "could not release the job claims; they expire in %.0f s", self.config.claim_lease
            )

    def _take_up(self, jobs: list[Job]) -> None:
        """Schedule the next step of jobs just claimed (first polls spread over a moment)."""
        now = self.clock()
        polling = [j for j in jobs if j.state in RUNNING]
        spread = self.config.resume_spread / max(1, len(polling))
        offsets = {job.id: spread * place for place, job in enumerate(polling)}
        for job in jobs:
            self.table.remember(job)
            if job.state is JobState.QUEUED:
                self.recorder.queue(job)
            elif job.state in RUNNING:
                self.table.due.schedule(job.id, now + offsets[job.id])
            else:  # submitting (reconcile first), succeeded or delivering
                self.table.due.schedule(job.id, now)
        if jobs:
            self.scheduler.wake()

    async def _beat_forever(self) -> None:
        # Real time, also when tests drive the steps with a virtual clock: the heartbeat must
        # not move that clock (a lease of this process that ran out on it is simply claimed
        # again by the next step).
        while True:
            await asyncio.sleep(self.config.claim_lease / 3)
            try:
                await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database error: the next beat tries again (a lease outlasts two of them).
                log.exception("the job claims' heartbeat failed")

    async def _beat(self) -> None:
        """The claims' heartbeat: renew this process's leases, and take up the jobs of its
        shards that nobody holds any more (their process stopped or crashed)."""
        await self.ownership.renew()
        await self.ownership.release_the_gone()
        found = await self.ownership.unclaimed()
        if found:
            log.info("taking up %d jobs no process held", len(found))
            self._take_up(found)

    # -- public operations -----------------------------------------------------------------

    async def submit(self, new: NewJob, *, limits: JobLimits | None = None) -> Job:
        """Store a new job (within ``limits``, else ``QuotaExceededError``) and queue it.

        The job's server on another process's shards: that process takes it up (it hears of it
        at once, and would find it at its next heartbeat anyway)."""
        job = await self.store.create_job(new, limits=limits)
        claimed = await self.ownership.claim([job])
        if claimed:
            self.recorder.queue(claimed[0])
            self.scheduler.wake()
        else:
            await self.announce(job.id)
        return job

    def enqueue(self, job: Job) -> None:
        """Queue a stored ``queued`` job of this process's shards (e.g. one created through the
        store directly); it is claimed in the database at once (and before any step anyway)."""
        if job.state is not JobState.QUEUED or job.id in self.table:
            return
        if not self.ownership.owns(job):
            return
        self.recorder.queue(job)
        self.scheduler.wake()
        self._on_the_side(self.ownership.confirm(job.id), job.id)

    async def cancel(self, job_id: str, reason: str | None = None) -> Job | None:
        """Cancel a job that has not been sent to Kling yet; None when it is too late."""
        job = await self.store.cancel_job(job_id, reason or Msg("Cancelled before it was sent."))
        if job is None:
            return None
        await self.recorder.ended(job)
        return job

    def poll_soon(self, job_id: str) -> None:
        """Poll this job now if this process holds it (e.g. Kling called back for it)."""
        job = self.table.get(job_id)
        if job is not None and job.state in RUNNING:
            self.table.due.schedule(job_id, self.clock())
            self.scheduler.wake()

    async def announce(self, job_id: str) -> None:
        """Something happened to the job at Kling (its callback reached this process): tell every
        runner sharing the database, this one included; the one holding the job polls it now."""
        try:
            await self.store.notify(JOB_NEWS, job_id)
        except Exception:
            # Polling finds the change anyway; at least a job held here is polled now.
            log.warning("job %s: could not pass its callback on to the other processes", job_id)
            self.poll_soon(job_id)

    def _heard(self, job_id: str) -> None:
        """A runner announced news of a job (see :meth:`announce`)."""
        if job_id in self.table:
            self.poll_soon(job_id)
        else:
            # Not held here: it may be a new job of this process's shards, or one whose
            # process stopped. Looked up off the notification's call.
            self._on_the_side(self._look_at(job_id), job_id)

    async def _look_at(self, job_id: str) -> None:
        job = await self.store.get_job(job_id)
        if job is None or job.state.is_terminal or not self.ownership.owns(job):
            return
        if job_id not in self.table:
            self._take_up(await self.ownership.claim([job]))

    def _on_the_side(self, work: Coroutine[Any, Any, None], job_id: str) -> None:
        """Run a claim or a look-up beside the steps (a stop cancels it with them)."""
        if not self.scheduler.running:
            work.close()  # not started: the next start reads the database anyway
            return

        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database error: the claims' heartbeat settles the job soon enough.
                log.exception("job %s: could not check this process's claim", job_id)

        task = asyncio.create_task(guarded())
        self.scheduler.tasks.add(task)
        task.add_done_callback(self.scheduler.tasks.discard)

    def queue_position(self, job_id: str) -> int | None:
        """1-based place among this server's jobs waiting in the local queue; None if not queued."""
        return self.table.queue.position(job_id)

    def queue_length(self, guild_id: int | None = None) -> int:
        return self.table.queue.length(guild_id)

    @property
    def in_flight(self) -> int:
        return len(self.table)

    @property
    def steps_running(self) -> int:
        return len(self.scheduler.tasks)

    def estimate(self, kind: JobKind) -> float | None:
        return self.poller.estimates.get(kind)

    def result_path_for(self, job: Job) -> Path:
        return self.delivery.result_path_for(job)

    # -- the step of a due job -------------------------------------------------------------

    async def _next_call(self, job_id: str) -> None:
        """A due job's next Kling call, by its state (delivery is the scheduler's other step)."""
        job = self.table.get(job_id)
        if job is None:
            return
        if job.state is JobState.QUEUED:
            await self.submitter.expire_queued(job)
        elif job.state is JobState.SUBMITTING:
            await self.submitter.reconcile(job)
        elif job.state in RUNNING:
            await self.poller.poll(job)
        else:
            self.table.forget(job_id)
