"""The runner's delivery step: download the result, claim, post once, record.

The exactly-once argument is in ``runner.py``'s module docstring; this module implements it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.jobs.download import DownloadError, download_to_file
from bot.jobs.schedule import backoff
from bot.storage import Job, JobState

log = logging.getLogger("bot.jobs.runner")


class _TryLater(Exception):
    def __init__(self, wait: float) -> None:
        self.wait = wait


class DeliveryMixin:
    def _init_delivery_state(self) -> None:
        self._download_failures: dict[str, int] = {}
        self._delivery_failures: dict[str, int] = {}

    def _forget_delivery_state(self, job_id: str) -> None:
        self._download_failures.pop(job_id, None)
        self._delivery_failures.pop(job_id, None)

    def result_path_for(self, job: Job) -> Path:
        return self.media_dir / "results" / f"{job.id}.mp4"

    async def _deliver(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        try:
            video = await self._ensure_video(job)
        except _TryLater as later:
            self._heap.schedule(job_id, self.clock() + later.wait)
            return
        job = self._jobs[job_id]
        if job.state is JobState.SUCCEEDED:
            claimed = await self.store.claim_delivery(job_id)
        else:
            claimed = await self.store.reclaim_delivery(job_id, job.delivery_attempts)
        if claimed is None:  # someone else holds it (or it finished): trust the database
            await self._resync(job_id)
            return
        job = self._remember(claimed)
        if job.delivery_attempts == 1:
            await self._notify_state(job)
        elif await self._already_posted(job):
            return
        self.stats.deliveries += 1
        try:
            message_id = await self.deliverer.deliver(job, video)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self._delivery_failed(job, error)
            return
        await self._delivered(job, message_id)

    async def _already_posted(self, job: Job) -> bool:
        """A previous attempt may have posted before it could record it: look before posting."""
        message_id = await self.deliverer.find_delivery(job)
        if message_id is None:
            return False
        log.info("job %s: found the earlier post %s; not posting again", job.id, message_id)
        await self._delivered(job, message_id)
        return True

    async def _delivered(self, job: Job, message_id: int) -> None:
        done = await self.store.mark_delivered(job.id, message_id)
        if done is None:
            await self._resync(job.id)
            return
        self._forget(job.id)
        await self._notify_state(done)
        await self._notify("on_finished", done)

    async def _delivery_failed(self, job: Job, error: Exception) -> None:
        failures = self._delivery_failures.get(job.id, 0) + 1
        self._delivery_failures[job.id] = failures
        log.warning("job %s: posting the result failed (%r), try %d", job.id, error, failures)
        if failures < self.config.max_delivery_attempts:
            wait = backoff(self.config.delivery_retry_first, 600.0, failures)
            self._heap.schedule(job.id, self.clock() + wait)
            return
        # Last chance: the failed attempt may still have posted.
        job = await self.store.reclaim_delivery(job.id, job.delivery_attempts) or job
        self._remember(job)
        if await self._already_posted(job):
            return
        await self._fail(job, "The video is ready but the bot could not post it in this channel.")

    async def _ensure_video(self, job: Job) -> Path | None:
        """The downloaded result, or None to post a link after repeated download failures."""
        if job.result_path and await asyncio.to_thread(Path(job.result_path).is_file):
            return Path(job.result_path)
        if not job.result_url:
            return None
        failures = self._download_failures.get(job.id, 0)
        if failures >= self.config.max_download_attempts:
            return None
        dest = self.result_path_for(job)
        try:
            await download_to_file(
                self.http,
                job.result_url,
                dest,
                max_bytes=self.config.download_max_bytes,
                time_limit=self.config.download_time_limit,
            )
        except DownloadError as error:
            failures += 1
            self._download_failures[job.id] = failures
            log.warning("job %s: download failed (%s), try %d", job.id, error, failures)
            if failures >= self.config.max_download_attempts:
                return None
            raise _TryLater(backoff(self.config.delivery_retry_first, 300.0, failures)) from error
        updated = await self.store.update_job(job.id, result_path=str(dest))
        if updated is not None:
            self._remember(updated)
        return dest
