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

Every step of every job starts in one place, :meth:`JobTable.take`; that is where a database
claim of the job goes when several processes share one database (SPEC §11). :class:`JobRunner`
assembles the parts and is what the rest of the bot uses: ``start``/``stop``, ``submit``,
``enqueue``, ``cancel``, ``poll_soon``, the queue places and estimates shown on job cards, and
``stats``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bot.i18n import Msg
from bot.jobs.delivery import Delivery
from bot.jobs.poller import RUNNING, Poller
from bot.jobs.protocols import Deliverer, JobObserver, NullObserver, TaskBackend
from bot.jobs.record import Recorder, RunnerStats
from bot.jobs.schedule import RunnerConfig, SubmissionGate
from bot.jobs.scheduler import Scheduler
from bot.jobs.submitter import Submitter
from bot.jobs.table import JobTable
from bot.jobs.unexpected import UnexpectedErrors
from bot.storage import Job, JobKind, JobLimits, JobState, NewJob, Store

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

__all__ = ["JobRunner", "RunnerStats"]


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
    ) -> None:
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
        self.scheduler = Scheduler(
            table=table, gate=self.gate, sleep=self._sleep, stats=stats,
            call=self._next_call, deliver=self.delivery.deliver, submit=self.submitter.submit,
            went_well=self.unexpected.went_well, crashed=self.unexpected.crashed,
            config=config, clock=clock,
        )  # fmt: skip

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume every in-flight job from the database and start the scheduler."""
        if self.scheduler.running:
            raise RuntimeError("the runner is already running")
        self._assemble()
        await self.poller.load_estimates()
        now = self.clock()
        resumed = await self.store.list_in_flight_jobs()
        polling = [j for j in resumed if j.state in RUNNING]
        spread = self.config.resume_spread / max(1, len(polling))
        offsets = {job.id: spread * place for place, job in enumerate(polling)}
        for job in resumed:
            self.table.remember(job)
            if job.state is JobState.QUEUED:
                self.recorder.queue(job)
            elif job.state in RUNNING:
                self.table.due.schedule(job.id, now + offsets[job.id])
            else:  # submitting (reconcile first), succeeded or delivering
                self.table.due.schedule(job.id, now)
        if resumed:
            log.info("resuming %d in-flight jobs", len(resumed))
        self.scheduler.start()

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop scheduling; give running steps ``grace`` seconds, then cancel them.

        Database writes already started still complete (the store shields them), so whatever a
        cancelled step leaves behind is a state the next start resumes from.
        """
        await self.scheduler.stop(grace=grace)

    # -- public operations -----------------------------------------------------------------

    async def submit(self, new: NewJob, *, limits: JobLimits | None = None) -> Job:
        """Store a new job (within ``limits``, else ``QuotaExceededError``) and queue it."""
        job = await self.store.create_job(new, limits=limits)
        self.enqueue(job)
        return job

    def enqueue(self, job: Job) -> None:
        """Queue a stored ``queued`` job (e.g. one created through the store directly)."""
        if job.state is not JobState.QUEUED or job.id in self.table:
            return
        self.recorder.queue(job)
        self.scheduler.wake()

    async def cancel(self, job_id: str, reason: str | None = None) -> Job | None:
        """Cancel a job that has not been sent to Kling yet; None when it is too late."""
        job = await self.store.cancel_job(job_id, reason or Msg("Cancelled before it was sent."))
        if job is None:
            return None
        await self.recorder.ended(job)
        return job

    def poll_soon(self, job_id: str) -> None:
        """Poll this job now (e.g. Kling called our callback URL for it)."""
        job = self.table.get(job_id)
        if job is not None and job.state in RUNNING:
            self.table.due.schedule(job_id, self.clock())
            self.scheduler.wake()

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
