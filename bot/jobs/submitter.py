"""The submitter: sends queued jobs to Kling, one at a time, and never creates a job twice.

The local queue is FIFO (by ``queued_at``). Before the create call the job is moved
``queued → submitting`` in the database, so a crash after the call was sent leaves a
``submitting`` job, which on resume is looked up by ``external_task_id`` (= the job id) before
anything is resent (:meth:`Submitter.reconcile`). A create that fails with an unknown outcome is
handled the same way. Kling's 1303/1302 answers (certainly not created) put the job back in the
queue at its old place and close the submission gate with exponential backoff. A job Kling never
takes within ``queue_timeout`` fails without being charged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.i18n import Msg
from bot.jobs.poller import Poller, minutes
from bot.jobs.protocols import TaskBackend
from bot.jobs.record import Recorder, RunnerStats
from bot.jobs.schedule import RunnerConfig, SubmissionGate, backoff
from bot.jobs.table import JobTable
from bot.jobs.unexpected import log_unexpected
from bot.kling.errors import CreateOutcomeUnknownError, KlingError
from bot.kling.models import Task, TaskStatus
from bot.kling.retry import proves_not_processed, refuses_duplicate_id
from bot.storage import Job, JobState, Store

log = logging.getLogger("bot.jobs.runner")


class Submitter:
    def __init__(
        self,
        *,
        store: Store,
        table: JobTable,
        recorder: Recorder,
        backend: TaskBackend,
        gate: SubmissionGate,
        poller: Poller,
        config: RunnerConfig,
        clock: Callable[[], float],
        stats: RunnerStats,
    ) -> None:
        self.store = store
        self.table = table
        self.recorder = recorder
        self.backend = backend
        self.gate = gate
        self.poller = poller
        self.config = config
        self.clock = clock
        self.stats = stats

    async def submit(self, job_id: str) -> None:
        """Send the job taken from the head of the queue."""
        job = await self.store.transition_job(
            job_id, from_states=[JobState.QUEUED], to=JobState.SUBMITTING
        )
        if job is None:  # cancelled or expired meanwhile
            self.table.forget(job_id)
            return
        self.table.remember(job)
        await self.recorder.state(job)
        self.stats.creates += 1
        try:
            task = await self.backend.create(job)
        except KlingError as error:
            if refuses_duplicate_id(error) or (
                isinstance(error, CreateOutcomeUnknownError) and error.known_to_exist
            ):
                # An earlier send of this job is at Kling (and running, and charged): adopt it.
                log.warning(
                    "job %s: Kling has this id already (%r); will look it up", job_id, error
                )
                self.table.notes(job_id).id_taken = True
                self._schedule_lookup(job)
            elif proves_not_processed(error):  # 1302/1303, or the connection was never made
                log.info("job %s: Kling is full (%s); back to the queue", job_id, error.code)
                self.gate.close()
                await self._requeue(job)
            elif error.retryable:
                log.warning("job %s: create outcome unknown (%r); will look it up", job_id, error)
                self._schedule_lookup(job)
            else:
                await self.recorder.fail(job, error.user_message)
            return
        except Exception:
            # Not a KlingError: nothing proves the create stayed unsent, so look before resending.
            log_unexpected(self.stats, job_id, "create")
            self._schedule_lookup(job)
            return
        self.gate.open()
        await self._accepted(job, task)
        await self._queue_moved(job.guild_id)

    async def reconcile(self, job: Job) -> None:
        """A create may have reached Kling: find it by external_task_id before any resend."""
        self.stats.lookups += 1
        try:
            task = await self.backend.find(job)
        except KlingError as error:
            log.warning("job %s: lookup failed (%r); will retry", job.id, error)
            await self._look_again_later(job)
            return
        except Exception:
            log_unexpected(self.stats, job.id, "lookup")
            await self._look_again_later(job)
            return
        if task is not None:
            log.info("job %s: found at Kling as task %s", job.id, task.task_id)
            self.gate.open()
            await self._accepted(job, task)
            return
        notes = self.table.notes(job.id)
        if notes.id_taken:
            # Kling said the id is taken, so the task exists: resending would only be refused
            # again. Its lookup lags behind; keep looking.
            log.warning("job %s: Kling has this id but the lookup does not show it yet", job.id)
            await self._look_again_later(job)
            return
        notes.absent_after_send += 1
        absent = notes.absent_after_send
        if absent >= self.config.max_submit_attempts:
            await self.recorder.fail(
                job, Msg("Kling did not take the job after {tries} tries.", tries=absent)
            )
            return
        await self._requeue(job)  # certainly not created: sending it again is safe

    async def expire_queued(self, job: Job) -> None:
        """The queued job's expiry came due: fail it unless woken early."""
        waited = self.clock() - job.created_at
        if waited < self.config.queue_timeout:
            self.recorder.queue(job)  # not due yet (e.g. woken early); keep its place
            return
        await self.recorder.fail(
            job,
            Msg(
                "Kling stayed busy for {minutes} minutes; the job was not sent and nothing was "
                "charged.",
                minutes=minutes(self.config.queue_timeout),
            ),
        )

    async def _look_again_later(self, job: Job) -> None:
        if self.clock() - job.updated_at >= self.config.poll_timeout:
            await self.recorder.fail(
                job,
                Msg(
                    "The bot lost contact with Kling while submitting; the job may still "
                    "run at Kling under id {job}.",
                    job=job.id,
                ),
            )
            return
        self._schedule_lookup(job)

    def _schedule_lookup(self, job: Job) -> None:
        notes = self.table.notes(job.id)
        notes.lookup_failures += 1
        config = self.config
        wait = backoff(config.reconcile_first, config.reconcile_max, notes.lookup_failures)
        self.table.due.schedule(job.id, self.clock() + wait)

    async def _requeue(self, job: Job) -> None:
        back = await self.store.transition_job(
            job.id, from_states=[JobState.SUBMITTING], to=JobState.QUEUED, detail="requeued"
        )
        if back is None:
            await self.recorder.resync(job.id)
            return
        self.table.remember(back)
        self.recorder.queue(back)
        await self.recorder.state(back)

    async def _accepted(self, job: Job, task: Task) -> None:
        state = JobState.PROCESSING if task.status is TaskStatus.PROCESSING else JobState.SUBMITTED
        # Columns of several types, checked by name against the store's settable columns.
        fields: dict[str, Any] = {"kling_task_id": task.task_id, "submitted_at": self.clock()}
        if task.final_unit_deduction is not None:
            fields["units"] = task.final_unit_deduction
        accepted = await self.store.transition_job(
            job.id, from_states=[JobState.SUBMITTING], to=state, **fields
        )
        if accepted is None:
            await self.recorder.resync(job.id)
            return
        self.table.remember(accepted)
        self.table.notes(job.id).lookup_failures = 0
        await self.recorder.state(accepted)
        if task.status.is_terminal:
            await self.poller.on_task(accepted, task)
        else:
            self.table.due.schedule(job.id, self.clock() + self.config.poll_first)

    async def _queue_moved(self, guild_id: int) -> None:
        """The queue advanced: let the cards of this server's waiting jobs show their new place
        (each at most once per ``progress_interval``; only those due are visited)."""
        now = self.clock()
        table = self.table
        for job_id in table.queue.due_for_news(guild_id, now, self.config.progress_interval):
            job = table.get(job_id)
            if job is not None and job_id in table.queue:
                table.notes(job_id).last_progress = now
                await self.recorder.notify(
                    "on_progress", job, now - job.created_at, self.poller.estimates.get(job.kind)
                )
