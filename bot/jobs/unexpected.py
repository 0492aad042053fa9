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

from bot.errors import new_error_id
from bot.i18n import Msg
from bot.jobs.schedule import backoff
from bot.storage import Job, JobState

log = logging.getLogger("bot.jobs.runner")

UNEXPECTED_RETRY_FIRST = 30.0
UNEXPECTED_RETRY_MAX = 600.0


class UnexpectedErrorsMixin:
    def _init_unexpected_state(self) -> None:
        self._unexpected: dict[str, int] = {}  # job id -> unexpected errors in a row

    def _unexpected_error(self, job_id: str, where: str) -> str:
        """Log the exception being handled with a new error id, count it, return the id."""
        error_id = new_error_id()
        self.stats.unexpected_errors += 1
        log.exception(
            "job %s: unexpected error %s in %s", job_id, error_id, where,
            extra={"unexpected_error": error_id},
        )
        return error_id

    def _step_went_well(self, job_id: str) -> None:
        self._unexpected.pop(job_id, None)

    async def _step_crashed(self, job_id: str, where: str) -> None:
        """A step raised: give up on the job at the cap, else try the step again later."""
        error_id = self._unexpected_error(job_id, where)
        job = self._jobs.get(job_id)
        if job is None:
            return
        streak = self._unexpected.get(job_id, 0) + 1
        self._unexpected[job_id] = streak
        if streak >= self.config.max_unexpected_errors or self._past_time_limit(job):
            try:
                if await self._give_up(job, error_id):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                self._unexpected_error(job_id, "giving up")
        if job_id not in self._jobs:
            return
        # Also a queued job whose submit crashed waits here, out of the queue (or the scheduler
        # would hand it straight back): its next step puts it back in its old place.
        wait = backoff(UNEXPECTED_RETRY_FIRST, UNEXPECTED_RETRY_MAX, streak)
        self._heap.schedule(job_id, self.clock() + wait)

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
            return await self._fail_unless_posted(job, reason)
        log.error("job %s: stopped after unexpected error %s", job.id, error_id)
        await self._fail(job, reason)
        return True
