"""The runner's steps before delivery: submit, reconcile, poll, and queue expiry.

Each step runs in its own short task started by the scheduler in ``runner.py`` and ends by
scheduling the job's next step (or forgetting a finished job). See ``runner.py`` for the design.
"""

from __future__ import annotations

import logging

from bot.i18n import Msg
from bot.jobs.delivery import DeliveryMixin
from bot.jobs.schedule import backoff, poll_interval
from bot.kling.errors import CreateOutcomeUnknownError, KlingError
from bot.kling.models import Task, TaskStatus
from bot.kling.retry import proves_not_processed, refuses_duplicate_id
from bot.storage import Job, JobState

log = logging.getLogger("bot.jobs.runner")

_MAX_REASON = 300
_RUNNING = (JobState.SUBMITTED, JobState.PROCESSING)


def plain_reason(status_msg: str | None) -> str:
    """Kling's ``task_status_msg`` as one short line (it is shown to users as the reason)."""
    text = " ".join((status_msg or "").split())
    if not text:
        return Msg("Kling did not say why the task failed.")
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}"


class StepsMixin(DeliveryMixin):
    def _init_step_state(self) -> None:
        self._polls: dict[str, int] = {}
        self._poll_errors: dict[str, int] = {}
        self._lookup_failures: dict[str, int] = {}
        self._absent_after_send: dict[str, int] = {}
        self._taken: set[str] = set()  # Kling refused the job's id as already taken
        self._last_progress: dict[str, float] = {}
        self._init_delivery_state()

    def _forget_step_state(self, job_id: str) -> None:
        for table in (
            self._polls,
            self._poll_errors,
            self._lookup_failures,
            self._absent_after_send,
            self._last_progress,
        ):
            table.pop(job_id, None)
        self._taken.discard(job_id)
        self._forget_delivery_state(job_id)

    async def _step(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if job.state is JobState.QUEUED:
            await self._expire_queued(job)
        elif job.state is JobState.SUBMITTING:
            await self._reconcile(job)
        elif job.state in _RUNNING:
            await self._poll(job)
        else:
            self._forget(job_id)

    # -- submitting ------------------------------------------------------------------------

    async def _submit(self, job_id: str) -> None:
        job = await self.store.transition_job(
            job_id, from_states=[JobState.QUEUED], to=JobState.SUBMITTING
        )
        if job is None:  # cancelled or expired meanwhile
            self._forget(job_id)
            return
        self._remember(job)
        await self._notify_state(job)
        self.stats.creates += 1
        try:
            task = await self.backend.create(job)
        except KlingError as error:
            if refuses_duplicate_id(error) or (
                isinstance(error, CreateOutcomeUnknownError) and error.known_to_exist
            ):
                # An earlier send of this job is at Kling (and running, and charged): adopt it.
                log.warning("job %s: Kling has this id already (%r); will look it up", job_id,
                            error)
                self._taken.add(job_id)
                self._schedule_lookup(job)
            elif proves_not_processed(error):  # 1302/1303, or the connection was never made
                log.info("job %s: Kling is full (%s); back to the queue", job_id, error.code)
                self._close_gate()
                await self._requeue(job)
            elif error.retryable:
                log.warning("job %s: create outcome unknown (%r); will look it up", job_id, error)
                self._schedule_lookup(job)
            else:
                await self._fail(job, error.user_message)
            return
        except Exception:
            # Not a KlingError: nothing proves the create stayed unsent, so look before resending.
            self._unexpected_error(job_id, "create")
            self._schedule_lookup(job)
            return
        self._open_gate()
        await self._accepted(job, task)
        await self._queue_moved(job.guild_id)

    async def _reconcile(self, job: Job) -> None:
        """A create may have reached Kling: find it by external_task_id before any resend."""
        self.stats.lookups += 1
        try:
            task = await self.backend.find(job)
        except KlingError as error:
            log.warning("job %s: lookup failed (%r); will retry", job.id, error)
            await self._look_again_later(job)
            return
        except Exception:
            self._unexpected_error(job.id, "lookup")
            await self._look_again_later(job)
            return
        if task is not None:
            log.info("job %s: found at Kling as task %s", job.id, task.task_id)
            self._open_gate()
            await self._accepted(job, task)
            return
        if job.id in self._taken:
            # Kling said the id is taken, so the task exists: resending would only be refused
            # again. Its lookup lags behind; keep looking.
            log.warning("job %s: Kling has this id but the lookup does not show it yet", job.id)
            await self._look_again_later(job)
            return
        absent = self._absent_after_send.get(job.id, 0) + 1
        self._absent_after_send[job.id] = absent
        if absent >= self.config.max_submit_attempts:
            await self._fail(job, Msg("Kling did not take the job after {tries} tries.",
                                      tries=absent))
            return
        await self._requeue(job)  # certainly not created: sending it again is safe

    async def _look_again_later(self, job: Job) -> None:
        if self.clock() - job.updated_at >= self.config.poll_timeout:
            await self._fail(
                job,
                Msg("The bot lost contact with Kling while submitting; the job may still "
                    "run at Kling under id {job}.", job=job.id),
            )
            return
        self._schedule_lookup(job)

    def _schedule_lookup(self, job: Job) -> None:
        failures = self._lookup_failures.get(job.id, 0) + 1
        self._lookup_failures[job.id] = failures
        config = self.config
        wait = backoff(config.reconcile_first, config.reconcile_max, failures)
        self._heap.schedule(job.id, self.clock() + wait)

    async def _requeue(self, job: Job) -> None:
        back = await self.store.transition_job(
            job.id, from_states=[JobState.SUBMITTING], to=JobState.QUEUED, detail="requeued"
        )
        if back is None:
            await self._resync(job.id)
            return
        self._remember(back)
        self._add_to_queue(back)
        await self._notify_state(back)

    async def _accepted(self, job: Job, task: Task) -> None:
        state = JobState.PROCESSING if task.status is TaskStatus.PROCESSING else JobState.SUBMITTED
        fields: dict[str, object] = {"kling_task_id": task.task_id, "submitted_at": self.clock()}
        if task.final_unit_deduction is not None:
            fields["units"] = task.final_unit_deduction
        accepted = await self.store.transition_job(
            job.id, from_states=[JobState.SUBMITTING], to=state, **fields
        )
        if accepted is None:
            await self._resync(job.id)
            return
        self._remember(accepted)
        self._lookup_failures.pop(job.id, None)
        await self._notify_state(accepted)
        if task.status.is_terminal:
            await self._on_task(accepted, task)
        else:
            self._heap.schedule(job.id, self.clock() + self.config.poll_first)

    async def _queue_moved(self, guild_id: int) -> None:
        """The queue advanced: let the cards of this server's waiting jobs show their new place
        (each at most once per ``progress_interval``; only those due are visited)."""
        now = self.clock()
        for job_id in self._queue.due_for_news(guild_id, now, self.config.progress_interval):
            job = self._jobs.get(job_id)
            if job is not None and job_id in self._queue:
                self._last_progress[job_id] = now
                await self._notify("on_progress", job, now - job.created_at,
                                   self._estimates.get(job.kind))

    async def _expire_queued(self, job: Job) -> None:
        waited = self.clock() - job.created_at
        if waited < self.config.queue_timeout:
            self._add_to_queue(job)  # not due yet (e.g. woken early); keep its place
            return
        await self._fail(
            job,
            Msg("Kling stayed busy for {minutes} minutes; the job was not sent and nothing was "
                "charged.", minutes=_minutes(self.config.queue_timeout)),
        )

    # -- polling ---------------------------------------------------------------------------

    async def _poll(self, job: Job) -> None:
        self.stats.polls += 1
        try:
            task = await self.backend.get(job)
        except KlingError as error:
            if not error.retryable:
                errors = self._poll_errors.get(job.id, 0) + 1
                self._poll_errors[job.id] = errors
                if errors >= self.config.max_poll_errors:
                    await self._fail(job, error.user_message)
                    return
            log.info("job %s: poll failed (%r)", job.id, error)
            await self._still_running(job)
            return
        except Exception:
            self._unexpected_error(job.id, "poll")
            await self._still_running(job)
            return
        self._poll_errors.pop(job.id, None)
        await self._on_task(job, task)

    async def _on_task(self, job: Job, task: Task) -> None:
        units = task.final_unit_deduction
        if task.status is TaskStatus.FAILED:
            self._open_gate()  # one of Kling's slots is free again
            await self._fail(job, plain_reason(task.status_msg), units=units)
            return
        if task.status is TaskStatus.SUCCEEDED:
            self._open_gate()
            await self._succeeded(job, task)
            return
        if task.status is TaskStatus.PROCESSING and job.state is JobState.SUBMITTED:
            moved = await self.store.transition_job(
                job.id, from_states=[JobState.SUBMITTED], to=JobState.PROCESSING
            )
            if moved is not None:
                job = self._remember(moved)
                await self._notify_state(job)
        await self._still_running(job)

    async def _still_running(self, job: Job) -> None:
        now = self.clock()
        started = job.submitted_at or job.created_at
        if now - started >= self.config.poll_timeout:
            await self._fail(
                job,
                Msg("Kling did not finish within {minutes} minutes; the bot stopped waiting "
                    "(Kling task {task}).", minutes=_minutes(self.config.poll_timeout),
                    task=job.kling_task_id),
            )
            return
        await self._maybe_progress(job)
        polls = self._polls.get(job.id, 0) + 1
        self._polls[job.id] = polls
        self._heap.schedule(job.id, now + poll_interval(self.config, polls))

    async def _maybe_progress(self, job: Job) -> None:
        now = self.clock()
        last = self._last_progress.get(job.id)
        if last is not None and now - last < self.config.progress_interval:
            return
        self._last_progress[job.id] = now
        elapsed = now - (job.submitted_at or job.created_at)
        await self._notify("on_progress", job, elapsed, self._estimates.get(job.kind))

    async def _succeeded(self, job: Job, task: Task) -> None:
        url = next(
            (v.url or v.watermark_url for v in task.videos if v.url or v.watermark_url), None
        )
        if url is None:
            await self._fail(
                job, Msg("Kling reported success but sent no video."),
                units=task.final_unit_deduction,
            )
            return
        fields: dict[str, object] = {"result_url": url, "finished_at": self.clock()}
        if task.final_unit_deduction is not None:
            fields["units"] = task.final_unit_deduction
        done = await self.store.transition_job(
            job.id, from_states=_RUNNING, to=JobState.SUCCEEDED, **fields
        )
        if done is None:
            await self._resync(job.id)
            return
        self._remember(done)
        self._estimates[done.kind] = await self.store.average_job_seconds(done.kind)
        await self._notify_state(done)
        self._heap.schedule(done.id, self.clock())  # deliver now

    # -- endings ---------------------------------------------------------------------------

    async def _fail(self, job: Job, reason: str, *, units: float | None = None) -> None:
        fields: dict[str, object] = {"status_msg": reason, "finished_at": self.clock()}
        if units is not None:
            fields["units"] = units
        failed = await self.store.transition_job(
            job.id, from_states=[job.state], to=JobState.FAILED, detail=reason, **fields
        )
        if failed is None:
            await self._resync(job.id)
            return
        log.info("job %s failed: %s", job.id, reason)
        self._forget(job.id)
        await self._notify_state(failed)
        await self._notify("on_finished", failed)

    async def _resync(self, job_id: str) -> None:
        """Our view of the job was stale (another actor moved it): adopt the stored state."""
        fresh = await self.store.get_job(job_id)
        if fresh is None or fresh.state.is_terminal:
            self._forget(job_id)
            return
        self._remember(fresh)
        if fresh.state is JobState.QUEUED:
            self._add_to_queue(fresh)
        else:
            self._heap.schedule(job_id, self.clock())
