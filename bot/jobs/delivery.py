"""The runner's delivery step: download the result, claim, post once, record.

The exactly-once argument is in ``runner.py``'s module docstring; this module implements it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from pathlib import Path

from bot.i18n import Msg
from bot.jobs.download import DownloadError, download_to_file
from bot.jobs.protocols import PostLookupUndecided
from bot.jobs.schedule import backoff
from bot.storage import Job, JobState

log = logging.getLogger("bot.jobs.runner")

# Stored as its English text like every runner reason; shown in the reader's language.
NOT_POSTED = Msg("The video is ready but the bot could not post it in this channel.")

# Waiting for a lookup that could not decide whether the result was posted: from
# ``delivery_retry_first``, doubling, up to this (a busy channel may need a few tries).
_UNDECIDED_RETRY_MAX = 1800.0


class _Undecided(enum.Enum):
    UNDECIDED = "undecided"


UNDECIDED = _Undecided.UNDECIDED


class _TryLater(Exception):
    def __init__(self, wait: float) -> None:
        self.wait = wait


class DeliveryMixin:
    def _init_delivery_state(self) -> None:
        self._download_failures: dict[str, int] = {}
        self._delivery_failures: dict[str, int] = {}
        self._undecided_lookups: dict[str, int] = {}

    def _forget_delivery_state(self, job_id: str) -> None:
        self._download_failures.pop(job_id, None)
        self._delivery_failures.pop(job_id, None)
        self._undecided_lookups.pop(job_id, None)

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
        else:
            found = await self._find_post(job)
            if found is UNDECIDED:
                self._look_for_post_later(job)
                return
            if found is not None:
                await self._delivered(job, found)
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

    async def _find_post(self, job: Job) -> int | _Undecided | None:
        """A previous attempt may have posted before it could record it: look before posting.

        The message id, None when certainly not posted, or UNDECIDED.
        """
        try:
            message_id = await self.deliverer.find_delivery(job)
        except asyncio.CancelledError:
            raise
        except PostLookupUndecided as error:
            log.warning("job %s: cannot tell yet whether the result was posted (%s)", job.id,
                        error)
            return UNDECIDED
        except Exception as error:
            log.warning("job %s: looking for an earlier post failed (%r)", job.id, error)
            return UNDECIDED
        if message_id is not None:
            log.info("job %s: found the earlier post %s; not posting again", job.id, message_id)
        self._undecided_lookups.pop(job.id, None)
        return message_id

    def _look_for_post_later(self, job: Job) -> None:
        """Neither post (it may be there) nor fail (it may have been delivered): ask again."""
        tries = self._undecided_lookups.get(job.id, 0) + 1
        self._undecided_lookups[job.id] = tries
        wait = backoff(self.config.delivery_retry_first, _UNDECIDED_RETRY_MAX, tries)
        self._heap.schedule(job.id, self.clock() + wait)

    async def _fail_unless_posted(self, job: Job, reason: str) -> bool:
        """Fail a ``delivering`` job only when the channel shows that nothing was posted.

        True when the job is settled (found and recorded, failed, or taken over by another
        attempt); False when the lookup could not decide, so the job must be tried again later.
        """
        claimed = await self.store.reclaim_delivery(job.id, job.delivery_attempts)
        if claimed is None:  # another attempt holds it, or it finished: trust the database
            await self._resync(job.id)
            return True
        job = self._remember(claimed)
        found = await self._find_post(job)
        if found is UNDECIDED:
            return False
        if found is not None:
            await self._delivered(job, found)
            return True
        await self._fail(job, reason)
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
        if not await self._fail_unless_posted(job, NOT_POSTED):
            self._look_for_post_later(job)

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
