"""The poller: asks Kling about a job it accepted until it ends, and reports progress meanwhile.

Polls 5 s after acceptance, then growing by ``poll_growth`` up to 30 s per job; ``poll_timeout``
(default 60 min) after acceptance the job fails with a clear reason. A job that ends frees one of
Kling's slots, which reopens the submission gate; a success is then handed to delivery (scheduled
now), a failure carries Kling's reason in plain words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.i18n import Msg
from bot.jobs.protocols import TaskBackend
from bot.jobs.record import Recorder, RunnerStats
from bot.jobs.schedule import RunnerConfig, SubmissionGate, poll_interval
from bot.jobs.table import JobTable
from bot.jobs.unexpected import log_unexpected
from bot.kling.errors import KlingError
from bot.kling.models import Task, TaskStatus
from bot.storage import Job, JobKind, JobState, Store

log = logging.getLogger("bot.jobs.runner")

_MAX_REASON = 300
RUNNING = (JobState.SUBMITTED, JobState.PROCESSING)


def plain_reason(status_msg: str | None) -> str:
    """Kling's ``task_status_msg`` as one short line (it is shown to users as the reason)."""
    text = " ".join((status_msg or "").split())
    if not text:
        return Msg("Kling did not say why the task failed.")
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:g}"


class Poller:
    def __init__(
        self,
        *,
        store: Store,
        table: JobTable,
        recorder: Recorder,
        backend: TaskBackend,
        gate: SubmissionGate,
        config: RunnerConfig,
        clock: Callable[[], float],
        stats: RunnerStats,
    ) -> None:
        self.store = store
        self.table = table
        self.recorder = recorder
        self.backend = backend
        self.gate = gate
        self.config = config
        self.clock = clock
        self.stats = stats
        # Mean duration of past jobs of each kind, shown on the cards as an estimate.
        self.estimates: dict[JobKind, float | None] = {}

    async def load_estimates(self) -> None:
        for kind in JobKind:
            self.estimates[kind] = await self.store.average_job_seconds(kind)

    async def poll(self, job: Job) -> None:
        self.stats.polls += 1
        notes = self.table.notes(job.id)
        try:
            task = await self.backend.get(job)
        except KlingError as error:
            if not error.retryable:
                notes.poll_errors += 1
                if notes.poll_errors >= self.config.max_poll_errors:
                    await self.recorder.fail(job, error.user_message)
                    return
            log.info("job %s: poll failed (%r)", job.id, error)
            await self._still_running(job)
            return
        except Exception:
            log_unexpected(self.stats, job.id, "poll")
            await self._still_running(job)
            return
        notes.poll_errors = 0
        await self.on_task(job, task)

    async def on_task(self, job: Job, task: Task) -> None:
        """What Kling says about the job (from a poll, or from the create itself)."""
        units = task.final_unit_deduction
        if task.status is TaskStatus.FAILED:
            self.gate.open()  # one of Kling's slots is free again
            await self.recorder.fail(job, plain_reason(task.status_msg), units=units)
            return
        if task.status is TaskStatus.SUCCEEDED:
            self.gate.open()
            await self._succeeded(job, task)
            return
        if task.status is TaskStatus.PROCESSING and job.state is JobState.SUBMITTED:
            moved = await self.store.transition_job(
                job.id, from_states=[JobState.SUBMITTED], to=JobState.PROCESSING
            )
            if moved is not None:
                job = self.table.remember(moved)
                await self.recorder.state(job)
        await self._still_running(job)

    async def _still_running(self, job: Job) -> None:
        now = self.clock()
        started = job.submitted_at or job.created_at
        if now - started >= self.config.poll_timeout:
            await self.recorder.fail(
                job,
                Msg(
                    "Kling did not finish within {minutes} minutes; the bot stopped waiting "
                    "(Kling task {task}).",
                    minutes=minutes(self.config.poll_timeout),
                    task=job.kling_task_id,
                ),
            )
            return
        await self._maybe_progress(job)
        notes = self.table.notes(job.id)
        notes.polls += 1
        self.table.due.schedule(job.id, now + poll_interval(self.config, notes.polls))

    async def _maybe_progress(self, job: Job) -> None:
        now = self.clock()
        notes = self.table.notes(job.id)
        if notes.last_progress is not None and now - notes.last_progress < (
            self.config.progress_interval
        ):
            return
        notes.last_progress = now
        elapsed = now - (job.submitted_at or job.created_at)
        await self.recorder.notify("on_progress", job, elapsed, self.estimates.get(job.kind))

    async def _succeeded(self, job: Job, task: Task) -> None:
        url = next(
            (v.url or v.watermark_url for v in task.videos if v.url or v.watermark_url), None
        )
        if url is None:
            await self.recorder.fail(
                job,
                Msg("Kling reported success but sent no video."),
                units=task.final_unit_deduction,
            )
            return
        # Columns of several types, checked by name against the store's settable columns.
        fields: dict[str, Any] = {"result_url": url, "finished_at": self.clock()}
        if task.final_unit_deduction is not None:
            fields["units"] = task.final_unit_deduction
        done = await self.store.transition_job(
            job.id, from_states=RUNNING, to=JobState.SUCCEEDED, **fields
        )
        if done is None:
            await self.recorder.resync(job.id)
            return
        self.table.remember(done)
        self.estimates[done.kind] = await self.store.average_job_seconds(done.kind)
        await self.recorder.state(done)
        self.table.due.schedule(done.id, self.clock())  # deliver now
