"""A fast job world for fault tests: Kling emulator (stages of 0 s), real KlingClient with short
retry delays, a real JobRunner on a SQLite file, and a deliverer that records what was posted.

Used by tests/faults and tests/security. Jobs are animate jobs (no selection session needed) on two
tiny reference images, so a job runs from queued to delivered in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bot.jobs import JobRunner, KlingTaskBackend, RunnerConfig, animate_request
from bot.kling import KlingClient, RetryPolicy, make_provider
from bot.kling.emulator import KlingEmulator
from bot.storage import Job, JobKind, JobState, NewJob, Store

GUILD, CHANNEL, ALICE = 1_000_000_000_000_000_001, 1_100_000_000_000_000_002, 900_000_000_000_001
ACCESS_KEY, SECRET_KEY = "ak-fault-matrix", "sk-fault-matrix-0123456789abcdef"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
FAST_RUNNER = RunnerConfig(
    poll_first=0.05,
    poll_max=0.1,
    poll_growth=1.0,
    queue_retry_first=0.05,
    queue_retry_max=0.2,
    reconcile_first=0.05,
    reconcile_max=0.2,
    delivery_retry_first=0.05,
    resume_spread=0.0,
    max_poll_errors=3,
    progress_interval=60.0,
)
TERMINAL = {JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED}


async def settled_job(store: Store, job_id: str, timeout: float = 60.0) -> Job:  # noqa: ASYNC109
    """Wait until the job is delivered, failed or cancelled; return it from the database.
    The deadline only stops a job that would hang; a passing job returns as soon as done."""
    async with asyncio.timeout(timeout):
        while True:
            job = await store.get_job(job_id)
            assert job is not None
            if job.state in TERMINAL:
                return job
            await asyncio.sleep(0.02)


# A Kling time limit no busy machine reaches, for every case that is not about time.
GENEROUS_S = 30.0


@dataclass
class RecordingDeliverer:
    posted: list[tuple[str, Path | None]] = field(default_factory=list)

    async def deliver(self, job: Job, video: Path | None) -> int:
        self.posted.append((job.id, video))
        return 7_000 + len(self.posted)

    async def find_delivery(self, job: Job) -> int | None:
        return next((7_001 + i for i, (jid, _) in enumerate(self.posted) if jid == job.id), None)


@dataclass
class JobWorld:
    emulator: KlingEmulator
    store: Store
    client: KlingClient
    runner: JobRunner
    deliverer: RecordingDeliverer
    images: list[Path]

    @property
    def calls(self) -> dict[str, int]:
        return dict(self.emulator.faults.calls)

    def tasks_created(self) -> int:
        return len(self.emulator.store.tasks)

    async def submit(self, prompt: str = "two pictures, slowly panned") -> Job:
        new = NewJob(
            kind=JobKind.ANIMATE,
            guild_id=GUILD,
            channel_id=CHANNEL,
            requester_id=ALICE,
            request=animate_request(prompt=prompt, image_paths=self.images),
        )
        return await self.runner.submit(new)

    async def settle(self, job_id: str, timeout: float = 60.0) -> Job:  # noqa: ASYNC109
        return await settled_job(self.store, job_id, timeout)


def tiny_images(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, colour in enumerate(((200, 40, 40), (40, 40, 200))):
        path = folder / f"ref{index}.png"
        Image.new("RGB", (320, 320), colour).save(path)
        paths.append(path)
    return paths


@contextlib.asynccontextmanager
async def job_world(
    tmp: Path,
    *,
    total_timeout: float = GENEROUS_S,
    callback_url: str | Callable[[Job], str] | None = None,
    runner_config: RunnerConfig = FAST_RUNNER,
    **emulator_options: Any,
) -> AsyncIterator[JobWorld]:
    """Everything started; the runner running. Auth uses an access/secret key pair (a JWT) so the
    client's token renewal on 1000/1003/1004 is exercised."""
    options: dict[str, Any] = {
        "seconds_per_stage": 0.0,
        "image2video_long_side": 160,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
    }
    options.update(emulator_options)
    emulator = KlingEmulator(work_dir=tmp / "emulator", **options)
    async with emulator, aiohttp.ClientSession() as http:
        provider = make_provider(
            "kling", base_url=emulator.base_url, access_key=ACCESS_KEY, secret_key=SECRET_KEY
        )
        client = KlingClient(
            http,
            provider,
            total_timeout=total_timeout,
            connect_timeout=2.0,
            retry=FAST_RETRY,
            reconcile_delay=0.0,
        )
        store = await Store.open(tmp / "bot.sqlite3")
        deliverer = RecordingDeliverer()
        runner = JobRunner(
            store,
            KlingTaskBackend(client, callback_url=callback_url),
            deliverer,
            media_dir=tmp / "media",
            http=http,
            config=runner_config,
        )
        await runner.start()
        try:
            yield JobWorld(emulator, store, client, runner, deliverer, tiny_images(tmp / "refs"))
        finally:
            await runner.stop()
            await store.close()
