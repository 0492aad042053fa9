"""What the runner does when a step raises something it did not expect (a bug, a database error).

The job is kept and its step tried again later, with a growing wait, but not forever: after
``max_unexpected_errors`` such errors in a row, or once the job's own time limit has passed, the
job fails with a message naming the error id that was logged (SPEC §7), so a member is never left
watching a card that will not move. A job whose result may already be posted is the exception:
it is failed only once the channel shows that the result is not there (see ``delivery.py``).

Every unexpected error is counted in ``stats.unexpected_errors`` and logged with the record
attribute ``unexpected_error`` (the error id), so tests can insist that none happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.errors import new_error_id
from bot.i18n import Msg
from bot.jobs.schedule import RunnerConfig, backoff
from bot.storage import Job, JobState

if TYPE_CHECKING:
    from bot.jobs.delivery import Delivery
    from bot.jobs.record import Recorder, RunnerStats
    from bot.jobs.table import JobTable

log = logging.getLogger("bot.jobs.runner")

UNEXPECTED_RETRY_FIRST = 30.0
UNEXPECTED_RETRY_MAX = 600.0


def log_unexpected(stats: RunnerStats, job_id: str, where: str) -> str:
    """Log the exception being handled with a new error id, count it, return the id."""
    error_id = new_error_id()
    stats.unexpected_errors += 1
    log.exception(
        "job %s: unexpected error %s in %s",
        job_id,
        error_id,
        where,
        extra={"unexpected_error": error_id},
    )
    return error_id


class UnexpectedErrors:
    """Decides what becomes of a job whose step raised: try again later, or give up."""

    def __init__(
        self,
        *,
        table: JobTable,
        recorder: Recorder,
        delivery: Delivery,
        config: RunnerConfig,
        clock: Callable[[], float],
        stats: RunnerStats,
    ) -> None:
        self.table = table
        self.recorder = recorder
        self.delivery = delivery
        self.config = config
        self.clock = clock
        self.stats = stats

    def went_well(self, job_id: str) -> None:
        """A step returned: the errors so far no longer count as "in a row".

        Not for a job still queued: after its submit crashed, the step that puts it back in the
        queue returns fine every time without sending anything, and counting that as progress
        would retry a crashing submit until the queue time limit instead of stopping it."""
        job = self.table.get(job_id)
        if job is not None and job.state is JobState.QUEUED:
            return
        self.table.notes(job_id).unexpected = 0

    async def crashed(self, job_id: str, where: str) -> None:
        """A step raised: give up on the job at the cap, else try the step again later."""
        error_id = log_unexpected(self.stats, job_id, where)
        job = self.table.get(job_id)
        if job is None:
            return
        notes = self.table.notes(job_id)
        notes.unexpected += 1
        streak = notes.unexpected
        if streak >= self.config.max_unexpected_errors or self._past_time_limit(job):
            try:
                if await self._give_up(job, error_id):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log_unexpected(self.stats, job_id, "giving up")
        if job_id not in self.table:
            return
        # Also a queued job whose submit crashed waits here, out of the queue (or the scheduler
        # would hand it straight back): its next step puts it back in its old place.
        wait = backoff(UNEXPECTED_RETRY_FIRST, UNEXPECTED_RETRY_MAX, streak)
        self.table.due.schedule(job_id, self.clock() + wait)

    def _past_time_limit(self, job: Job) -> bool:
        now = self.clock()
        config = self.config
        if job.state is JobState.QUEUED:
            return now - job.created_at >= config.queue_timeout
        if job.state in (JobState.SUBMITTED, JobState.PROCESSING):
            return now - (job.submitted_at or job.created_at) >= config.poll_timeout
        if job.state in (JobState.SUCCEEDED, JobState.DELIVERING):
            return now - (job.finished_at or job.updated_at) >= config.poll_timeout
        return now - job.updated_at >= config.poll_timeout  # submitting

    async def _give_up(self, job: Job, error_id: str) -> bool:
        """Fail the job after repeated unexpected errors; False when it must be tried again."""
        reason = Msg(
            "Something went wrong on our side while handling this job (error id `{error_id}`); "
            "the bot stopped it.",
            error_id=error_id,
        )
        if job.state is JobState.DELIVERING:
            # The result may be posted already: fail only once the channel says it is not.
            return await self.delivery.fail_unless_posted(job, reason)
        log.error("job %s: stopped after unexpected error %s", job.id, error_id)
        await self.recorder.fail(job, reason)
        return True
