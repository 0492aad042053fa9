"""The job runner: one scheduler task drives every job from the local queue to a posted video.

How work is scheduled
    One long-lived asyncio task (the scheduler) owns all in-flight jobs. Each job has at most one
    entry in a due-time heap (next poll, next reconcile, delivery, queue expiry); the scheduler
    sleeps until the earliest entry (or until woken), pops what is due, and starts a short-lived
    step task for it, bounded by ``max_concurrent_calls`` (Kling calls) and
    ``max_concurrent_deliveries``. A job never has two steps at once. With 1,000 jobs in flight the
    scheduler wakes only when something is due, and each wake costs O(log n).

Submitting (no job is ever created twice)
    The local queue is FIFO (by ``queued_at``); one job is submitted at a time. Before the create
    call the job is moved ``queued → submitting`` in the database, so a crash after the call was
    sent leaves a ``submitting`` job, which on resume is looked up by ``external_task_id`` (= the
    job id) before anything is resent. A create that fails with an unknown outcome is handled the
    same way. Kling's 1303/1302 answers (certainly not created) put the job back in the queue at
    its old place and close the submission gate with exponential backoff; the gate reopens when a
    running job finishes (a slot is free) or the backoff ends.

Polling
    5 s after acceptance, then growing by ``poll_growth`` up to 30 s per job; ``poll_timeout``
    (default 60 min) after acceptance the job fails with a clear reason.

Delivering exactly once
    1. The runner downloads the result (``succeeded``) and then calls ``store.claim_delivery``, a
       compare-and-set ``succeeded → delivering`` that also increments ``delivery_attempts``. Only
       one caller, in any process, can win it; only the winner calls ``deliver``.
    2. After ``deliver`` returns the message id, ``store.mark_delivered`` (CAS
       ``delivering → delivered``) records it.
    3. The only window where a post can exist without being recorded is between 1 and 2 (crash,
       cancellation, or an error raised after the post). Every later attempt on a ``delivering``
       job first wins ``store.reclaim_delivery`` (CAS on ``delivery_attempts``, so again one
       winner) and then asks ``deliverer.find_delivery(job)`` whether a message carrying
       ``job.delivery_key`` (stable across attempts) was already posted; if so, that id is
       recorded and nothing is posted. When the search cannot decide (``PostLookupUndecided``,
       or any error), nothing is posted and nothing is failed: the job asks again later. The
       first attempt (``delivery_attempts == 1``) needs no check because nothing can have been
       posted before the claim.
    Hence: at most one attempt runs at a time, every attempt after the first is preceded by a
    check for an earlier post, and ``delivered`` is terminal, so the video is posted once as long
    as ``find_delivery`` sees what ``deliver`` posted (the Discord side uses the key as the
    message nonce and in the result message, and searches the channel's recent messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.i18n import Msg
from bot.jobs.protocols import Deliverer, JobObserver, NullObserver, TaskBackend
from bot.jobs.queue import LocalQueue
from bot.jobs.schedule import DueHeap, RunnerConfig, backoff
from bot.jobs.steps import StepsMixin
from bot.jobs.unexpected import UnexpectedErrorsMixin
from bot.storage import Job, JobKind, JobLimits, JobState, NewJob, Store

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
_DELIVERY_STATES = (JobState.SUCCEEDED, JobState.DELIVERING)


@dataclass
class RunnerStats:
    wakeups: int = 0
    creates: int = 0
    polls: int = 0
    lookups: int = 0
    deliveries: int = 0
    unexpected_errors: int = 0  # exceptions no step expected (see unexpected.py)


class JobRunner(StepsMixin, UnexpectedErrorsMixin):
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
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._reset()

    def _reset(self) -> None:
        """Empty in-memory state: after a stop, the database is the only truth."""
        self._jobs: dict[str, Job] = {}
        self._heap = DueHeap()
        self._queue = LocalQueue()
        self._busy: set[str] = set()
        self._ready_calls: deque[str] = deque()
        self._ready_deliveries: deque[str] = deque()
        self._calls_running = 0
        self._deliveries_running = 0
        self._submitting: str | None = None
        self._gate_until = 0.0
        self._gate_failures = 0
        self._estimates: dict[JobKind, float | None] = {}
        self._init_step_state()
        self._init_unexpected_state()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume every in-flight job from the database and start the scheduler."""
        if self._loop_task is not None:
            raise RuntimeError("the runner is already running")
        self._reset()
        for kind in JobKind:
            self._estimates[kind] = await self.store.average_job_seconds(kind)
        now = self.clock()
        resumed = await self.store.list_in_flight_jobs()
        polling = [j for j in resumed if j.state in (JobState.SUBMITTED, JobState.PROCESSING)]
        spread = self.config.resume_spread / max(1, len(polling))
        offsets = {job.id: spread * place for place, job in enumerate(polling)}
        for job in resumed:
            self._jobs[job.id] = job
            if job.state is JobState.QUEUED:
                self._add_to_queue(job)
            elif job.state in (JobState.SUBMITTED, JobState.PROCESSING):
                self._heap.schedule(job.id, now + offsets[job.id])
            else:  # submitting (reconcile first), succeeded or delivering
                self._heap.schedule(job.id, now)
        if resumed:
            log.info("resuming %d in-flight jobs", len(resumed))
        self._loop_task = asyncio.create_task(self._run(), name="kling-job-runner")

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop scheduling; give running steps ``grace`` seconds, then cancel them.

        Database writes already started still complete (the store shields them), so whatever a
        cancelled step leaves behind is a state the next start resumes from.
        """
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        tasks = list(self._tasks)
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- public operations -----------------------------------------------------------------

    async def submit(self, new: NewJob, *, limits: JobLimits | None = None) -> Job:
        """Store a new job (within ``limits``, else ``QuotaExceededError``) and queue it."""
        job = await self.store.create_job(new, limits=limits)
        self.enqueue(job)
        return job

    def enqueue(self, job: Job) -> None:
        """Queue a stored ``queued`` job (e.g. one created through the store directly)."""
        if job.state is not JobState.QUEUED or job.id in self._jobs:
            return
        self._jobs[job.id] = job
        self._add_to_queue(job)
        self._wake.set()

    async def cancel(self, job_id: str, reason: str | None = None) -> Job | None:
        """Cancel a job that has not been sent to Kling yet; None when it is too late."""
        job = await self.store.cancel_job(job_id, reason or Msg("Cancelled before it was sent."))
        if job is None:
            return None
        self._forget(job_id)
        await self._notify_state(job)
        await self._notify("on_finished", job)
        return job

    def poll_soon(self, job_id: str) -> None:
        """Poll this job now (e.g. Kling called our callback URL for it)."""
        job = self._jobs.get(job_id)
        if job is not None and job.state in (JobState.SUBMITTED, JobState.PROCESSING):
            self._heap.schedule(job_id, self.clock())
            self._wake.set()

    def queue_position(self, job_id: str) -> int | None:
        """1-based place among this server's jobs waiting in the local queue; None if not queued."""
        return self._queue.position(job_id)

    def queue_length(self, guild_id: int | None = None) -> int:
        return self._queue.length(guild_id)

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    @property
    def steps_running(self) -> int:
        return len(self._tasks)

    def estimate(self, kind: JobKind) -> float | None:
        return self._estimates.get(kind)

    # -- the scheduler ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self.stats.wakeups += 1
            now = self.clock()
            for job_id in self._heap.pop_due(now):
                job = self._jobs.get(job_id)
                if job is None:
                    continue
                if job_id in self._busy:
                    self._heap.schedule(job_id, now + 1.0)
                elif job.state in _DELIVERY_STATES:
                    self._ready_deliveries.append(job_id)
                else:
                    self._ready_calls.append(job_id)
            self._start_ready()
            self._start_submission(now)
            await self._idle(now)

    def _start_ready(self) -> None:
        config = self.config
        while self._ready_calls and self._calls_running < config.max_concurrent_calls:
            self._calls_running += 1
            self._spawn(self._ready_calls.popleft(), self._step, delivery=False)
        while (
            self._ready_deliveries and self._deliveries_running < config.max_concurrent_deliveries
        ):
            self._deliveries_running += 1
            self._spawn(self._ready_deliveries.popleft(), self._deliver, delivery=True)

    def _start_submission(self, now: float) -> None:
        if self._submitting is not None or not self._queue or now < self._gate_until:
            return
        job_id = self._queue.first(skip=self._busy)
        if job_id is None:
            return
        self._queue.remove(job_id)
        self._heap.discard(job_id)  # its queue-expiry entry
        self._submitting = job_id
        self._spawn(job_id, self._submit, delivery=None)

    async def _idle(self, now: float) -> None:
        deadlines = []
        next_due = self._heap.next_due()
        if next_due is not None:
            deadlines.append(next_due)
        if self._queue and self._submitting is None and self._gate_until > now:
            deadlines.append(self._gate_until)  # (an open gate with a queue is handled above)
        if not deadlines:
            await self._wake.wait()
            return
        delay = max(0.0, min(deadlines) - now)
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()

    def _spawn(
        self, job_id: str, step: Callable[[str], Awaitable[None]], *, delivery: bool | None
    ) -> None:
        self._busy.add(job_id)
        task = asyncio.create_task(self._guarded(job_id, step, delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(
        self, job_id: str, step: Callable[[str], Awaitable[None]], delivery: bool | None
    ) -> None:
        try:
            await step(job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug or a database error: keep the job and try again later, up to a limit.
            await self._step_crashed(job_id, step.__name__)
        else:
            self._step_went_well(job_id)
        finally:
            self._busy.discard(job_id)
            if delivery is None:
                self._submitting = None
            elif delivery:
                self._deliveries_running -= 1
            else:
                self._calls_running -= 1
            self._wake.set()

    # -- bookkeeping used by the steps -----------------------------------------------------

    def _add_to_queue(self, job: Job) -> None:
        self._queue.add(job)
        self._heap.schedule(job.id, job.created_at + self.config.queue_timeout)

    def _close_gate(self) -> None:
        self._gate_failures += 1
        config = self.config
        wait = backoff(config.queue_retry_first, config.queue_retry_max, self._gate_failures)
        self._gate_until = self.clock() + wait

    def _open_gate(self) -> None:
        self._gate_failures = 0
        self._gate_until = 0.0
        self._wake.set()

    def _remember(self, job: Job) -> Job:
        self._jobs[job.id] = job
        return job

    def _forget(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        self._heap.discard(job_id)
        self._queue.remove(job_id)
        self._forget_step_state(job_id)
        self._unexpected.pop(job_id, None)

    async def _notify_state(self, job: Job) -> None:
        await self._notify("on_state_change", job)

    async def _notify(self, method: str, *args: Any) -> None:
        try:
            async with asyncio.timeout(self.config.observer_time_limit):
                await getattr(self.observer, method)(*args)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job observer %s failed", method)
