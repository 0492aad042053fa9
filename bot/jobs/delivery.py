"""Delivery: download the result, claim it, post it once, record it.

1. The result is downloaded (``succeeded``), then ``store.claim_delivery`` moves the job
   ``succeeded → delivering`` (a compare-and-set that also increments ``delivery_attempts``). Only
   one caller, in any process, can win it; only the winner calls ``deliverer.deliver``.
2. After ``deliver`` returns the message id, ``store.mark_delivered`` (CAS
   ``delivering → delivered``) records it.
3. The only window where a post can exist without being recorded is between 1 and 2 (crash,
   cancellation, or an error raised after the post). Every later attempt on a ``delivering`` job
   first wins ``store.reclaim_delivery`` (CAS on ``delivery_attempts``, so again one winner) and
   then asks ``deliverer.find_delivery(job)`` whether a message carrying ``job.delivery_key``
   (stable across attempts) was already posted; if so, that id is recorded and nothing is posted.
   When the search cannot decide (``PostLookupUndecided``, or any error), nothing is posted and
   nothing is failed: the job asks again later. The first attempt (``delivery_attempts == 1``)
   needs no check because nothing can have been posted before the claim.

Hence: at most one attempt runs at a time, every attempt after the first is preceded by a check
for an earlier post, and ``delivered`` is terminal, so the video is posted once as long as
``find_delivery`` sees what ``deliver`` posted (the Discord side uses the key as the message nonce
and in the result message, and searches the channel's recent messages).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bot.i18n import Msg
from bot.jobs.download import DownloadError, download_to_file
from bot.jobs.protocols import Deliverer, PostLookupUndecided
from bot.jobs.record import Recorder, RunnerStats
from bot.jobs.schedule import RunnerConfig, backoff
from bot.jobs.table import JobTable
from bot.storage import Job, JobState, Store

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


class Delivery:
    def __init__(
        self,
        *,
        store: Store,
        table: JobTable,
        recorder: Recorder,
        deliverer: Deliverer,
        http: aiohttp.ClientSession,
        media_dir: Path,
        config: RunnerConfig,
        clock: Callable[[], float],
        stats: RunnerStats,
    ) -> None:
        self.store = store
        self.table = table
        self.recorder = recorder
        self.deliverer = deliverer
        self.http = http
        self.media_dir = media_dir
        self.config = config
        self.clock = clock
        self.stats = stats

    def result_path_for(self, job: Job) -> Path:
        return self.media_dir / "results" / f"{job.id}.mp4"

    async def deliver(self, job_id: str) -> None:
        job = self.table.get(job_id)
        if job is None:
            return
        try:
            video = await self._ensure_video(job)
        except _TryLater as later:
            self.table.due.schedule(job_id, self.clock() + later.wait)
            return
        job = self.table[job_id]
        if job.state is JobState.SUCCEEDED:
            claimed = await self.store.claim_delivery(job_id)
        else:
            claimed = await self.store.reclaim_delivery(job_id, job.delivery_attempts)
        if claimed is None:  # someone else holds it (or it finished): trust the database
            await self.recorder.resync(job_id)
            return
        job = self.table.remember(claimed)
        if job.delivery_attempts == 1:
            await self.recorder.state(job)
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
            log.warning("job %s: cannot tell yet whether the result was posted (%s)", job.id, error)
            return UNDECIDED
        except Exception as error:
            log.warning("job %s: looking for an earlier post failed (%r)", job.id, error)
            return UNDECIDED
        if message_id is not None:
            log.info("job %s: found the earlier post %s; not posting again", job.id, message_id)
        self.table.notes(job.id).undecided_lookups = 0
        return message_id

    def _look_for_post_later(self, job: Job) -> None:
        """Neither post (it may be there) nor fail (it may have been delivered): ask again."""
        notes = self.table.notes(job.id)
        notes.undecided_lookups += 1
        tries = notes.undecided_lookups
        wait = backoff(self.config.delivery_retry_first, _UNDECIDED_RETRY_MAX, tries)
        self.table.due.schedule(job.id, self.clock() + wait)

    async def fail_unless_posted(self, job: Job, reason: str) -> bool:
        """Fail a ``delivering`` job only when the channel shows that nothing was posted.

        True when the job is settled (found and recorded, failed, or taken over by another
        attempt); False when the lookup could not decide, so the job must be tried again later.
        """
        claimed = await self.store.reclaim_delivery(job.id, job.delivery_attempts)
        if claimed is None:  # another attempt holds it, or it finished: trust the database
            await self.recorder.resync(job.id)
            return True
        job = self.table.remember(claimed)
        found = await self._find_post(job)
        if found is UNDECIDED:
            return False
        if found is not None:
            await self._delivered(job, found)
            return True
        await self.recorder.fail(job, reason)
        return True

    async def _delivered(self, job: Job, message_id: int) -> None:
        done = await self.store.mark_delivered(job.id, message_id)
        if done is None:
            await self.recorder.resync(job.id)
            return
        await self.recorder.ended(done)

    async def _delivery_failed(self, job: Job, error: Exception) -> None:
        notes = self.table.notes(job.id)
        notes.delivery_failures += 1
        failures = notes.delivery_failures
        log.warning("job %s: posting the result failed (%r), try %d", job.id, error, failures)
        if failures < self.config.max_delivery_attempts:
            wait = backoff(self.config.delivery_retry_first, 600.0, failures)
            self.table.due.schedule(job.id, self.clock() + wait)
            return
        # Last chance: the failed attempt may still have posted.
        if not await self.fail_unless_posted(job, NOT_POSTED):
            self._look_for_post_later(job)

    async def _ensure_video(self, job: Job) -> Path | None:
        """The downloaded result, or None to post a link after repeated download failures."""
        if job.result_path:
            stored = Path(job.result_path)
            if await asyncio.to_thread(stored.is_file):
                return stored
        if not job.result_url:
            return None
        notes = self.table.notes(job.id)
        failures = notes.download_failures
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
            notes.download_failures += 1
            failures = notes.download_failures
            log.warning("job %s: download failed (%s), try %d", job.id, error, failures)
            if failures >= self.config.max_download_attempts:
                return None
            raise _TryLater(backoff(self.config.delivery_retry_first, 300.0, failures)) from error
        updated = await self.store.update_job(job.id, result_path=str(dest))
        if updated is not None:
            self.table.remember(updated)
        return dest
