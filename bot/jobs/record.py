"""How the runner's parts write down what happened to a job, and what the runner counts.

A job's state changes in the database first (a compare-and-set in ``bot.storage``); the
:class:`Recorder` then keeps the table in step with it and tells the observer (the job cards).
When a compare-and-set finds the job moved by someone else, :meth:`Recorder.resync` adopts what
the database says.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.jobs.protocols import JobObserver
from bot.jobs.schedule import RunnerConfig
from bot.jobs.table import JobTable
from bot.storage import Job, JobState, Store

log = logging.getLogger("bot.jobs.runner")


@dataclass
class RunnerStats:
    wakeups: int = 0
    creates: int = 0
    polls: int = 0
    lookups: int = 0
    deliveries: int = 0
    unexpected_errors: int = 0  # exceptions no step expected (see unexpected.py)


class Recorder:
    def __init__(
        self,
        store: Store,
        table: JobTable,
        observer: JobObserver,
        config: RunnerConfig,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.table = table
        self.observer = observer
        self.config = config
        self.clock = clock

    def queue(self, job: Job) -> None:
        """Put a ``queued`` job in the local queue; it fails if Kling stays full too long."""
        self.table.enqueue(job, expires_at=job.created_at + self.config.queue_timeout)

    async def state(self, job: Job) -> None:
        """Tell the observer about the job's new state."""
        await self.notify("on_state_change", job)

    async def notify(self, method: str, *args: Any) -> None:
        """Call the observer, never waiting on it forever nor letting its errors stop a step."""
        try:
            async with asyncio.timeout(self.config.observer_time_limit):
                await getattr(self.observer, method)(*args)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job observer %s failed", method)

    async def ended(self, job: Job) -> None:
        """The job reached delivered, failed or cancelled: forget it and say so once."""
        self.table.forget(job.id)
        await self.state(job)
        await self.notify("on_finished", job)

    async def fail(self, job: Job, reason: str, *, units: float | None = None) -> None:
        fields: dict[str, object] = {"status_msg": reason, "finished_at": self.clock()}
        if units is not None:
            fields["units"] = units
        failed = await self.store.transition_job(
            job.id, from_states=[job.state], to=JobState.FAILED, detail=reason, **fields
        )
        if failed is None:
            await self.resync(job.id)
            return
        log.info("job %s failed: %s", job.id, reason)
        await self.ended(failed)

    async def resync(self, job_id: str) -> None:
        """Our view of the job was stale (another actor moved it): adopt the stored state."""
        fresh = await self.store.get_job(job_id)
        if fresh is None:
            self.table.forget(job_id)
            return
        self.adopt(fresh)

    def adopt(self, fresh: Job) -> None:
        """Take the job up again as the database has it (its next step by its stored state)."""
        job_id = fresh.id
        if fresh.state.is_terminal:
            self.table.forget(job_id)
            return
        self.table.remember(fresh)
        if fresh.state is JobState.QUEUED:
            self.queue(fresh)
        else:
            # Sent meanwhile: it no longer waits here (its card must drop its place, and the
            # scheduler must never hand it to the submitter again).
            self.table.queue.remove(job_id)
            self.table.due.schedule(job_id, self.clock())
