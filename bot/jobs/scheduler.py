"""The scheduler: one long-lived task that starts each job's next step when it is due.

Each job has at most one entry in the table's due-time heap (next poll, next reconcile,
delivery, queue expiry); the scheduler sleeps until the earliest entry (or until woken), pops what
is due, and starts a short-lived step task for it, bounded by ``max_concurrent_calls`` (Kling
calls) and ``max_concurrent_deliveries``; and, while the submission gate is open, one submission
at a time from the head of the local queue. Every step starts through ``JobTable.take``, so a job
never has two steps at once. With 1,000 jobs in flight the scheduler wakes only when something is
due, and each wake costs O(log n).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal

from bot.jobs.record import RunnerStats
from bot.jobs.schedule import RunnerConfig, SubmissionGate
from bot.jobs.table import JobTable
from bot.storage import JobState

Step = Callable[[str], Awaitable[None]]
Kind = Literal["call", "delivery", "submission"]
_DELIVERY_STATES = (JobState.SUCCEEDED, JobState.DELIVERING)


class Scheduler:
    def __init__(
        self,
        *,
        table: JobTable,
        gate: SubmissionGate,
        config: RunnerConfig,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        stats: RunnerStats,
        call: Step,
        deliver: Step,
        submit: Step,
        went_well: Callable[[str], None],
        crashed: Callable[[str, str], Awaitable[None]],
        hold: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        """``call``: the next Kling call of a due job (expire, reconcile or poll); ``deliver``:
        the delivery of a finished one; ``submit``: the send of the queue's head. A step that
        raises is reported to ``crashed`` (with the step's name), one that returns to
        ``went_well``. ``hold``: run before every step, which runs only if it returns True
        (this process's claim on the job, see ownership.py)."""
        self.table = table
        self.gate = gate
        self.config = config
        self.clock = clock
        self._sleep = sleep
        self.stats = stats
        self._steps: dict[Kind, Step] = {"call": call, "delivery": deliver, "submission": submit}
        self._went_well = went_well
        self._crashed = crashed
        self._hold = hold
        self.tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._ready: dict[Kind, deque[str]] = {"call": deque(), "delivery": deque()}
        self._running: dict[Kind, int] = {"call": 0, "delivery": 0, "submission": 0}

    @property
    def running(self) -> bool:
        return self._loop_task is not None

    def wake(self) -> None:
        """Look at the heap and the queue again now (something changed)."""
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="kling-job-runner")

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop scheduling; give running steps ``grace`` seconds, then cancel them."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        tasks = list(self.tasks)
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        table = self.table
        while True:
            self._wake.clear()
            self.stats.wakeups += 1
            now = self.clock()
            for job_id in table.due.pop_due(now):
                job = table.get(job_id)
                if job is None:
                    continue
                if table.busy(job_id):
                    table.due.schedule(job_id, now + 1.0)
                elif job.state in _DELIVERY_STATES:
                    self._ready["delivery"].append(job_id)
                else:
                    self._ready["call"].append(job_id)
            self._start_ready()
            self._start_submission(now)
            await self._idle(now)

    def _start_ready(self) -> None:
        limits: dict[Kind, int] = {
            "call": self.config.max_concurrent_calls,
            "delivery": self.config.max_concurrent_deliveries,
        }
        for kind, ready in self._ready.items():
            while ready and self._running[kind] < limits[kind]:
                self._spawn(ready.popleft(), kind)

    def _start_submission(self, now: float) -> None:
        queue = self.table.queue
        if self._running["submission"] or not queue or not self.gate.is_open(now):
            return
        job_id = queue.first(skip=self.table.busy_ids)
        if job_id is None:
            return
        self.table.dequeue(job_id)
        self._spawn(job_id, "submission")

    async def _idle(self, now: float) -> None:
        deadlines = []
        next_due = self.table.due.next_due()
        if next_due is not None:
            deadlines.append(next_due)
        gate_opens = self.gate.closed_until
        if self.table.queue and not self._running["submission"] and gate_opens > now:
            deadlines.append(gate_opens)  # (an open gate with a queue is handled above)
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

    def _spawn(self, job_id: str, kind: Kind) -> None:
        step = self._steps[kind]
        if self.table.take(job_id, step.__name__) is None:
            return  # forgotten meanwhile, or its step is running already
        self._running[kind] += 1
        task = asyncio.create_task(self._guarded(job_id, step, kind))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guarded(self, job_id: str, step: Step, kind: Kind) -> None:
        try:
            if self._hold is not None and not await self._hold(job_id):
                return  # another process holds the job, or it moved on: not this step
            await step(job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug or a database error: keep the job and try again later, up to a limit.
            await self._crashed(job_id, step.__name__)
        else:
            self._went_well(job_id)
        finally:
            self.table.release(job_id)
            self._running[kind] -= 1
            self._wake.set()
