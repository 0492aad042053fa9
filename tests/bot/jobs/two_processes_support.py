"""Two runners sharing one database, as two processes would (SPEC §11): the harness the
two-process tests share.

Each "process" has its own store (its own connection to the database), its own HTTP session,
Kling client and deliverer, against one Kling emulator that counts the calls it receives. The
tests run on a SQLite file and on a throwaway PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.callbacks import callback_url
from bot.jobs import JobRunner, KlingTaskBackend, RunnerConfig, animate_request
from bot.kling import KlingClient, make_provider
from bot.kling.emulator import KlingEmulator
from bot.kling.models import Task
from bot.shards import ShardSet
from bot.storage import Job, JobKind, JobState, NewJob, Store
from tests.faults.world import (
    ACCESS_KEY,
    FAST_RETRY,
    FAST_RUNNER,
    SECRET_KEY,
    TERMINAL,
    RecordingDeliverer,
    settled_job,
    tiny_images,
)

CREATE, GET = "multi-image2video:create", "multi-image2video:get"
CHANNEL, ALICE = 1_100_000_000_000_000_002, 900_000_000_000_001
# Servers on shard 0 and shard 1 of 2 ((guild_id >> 22) % 2).
GUILD_0, GUILD_1 = 1000 << 22 | 12345, 1001 << 22 | 12345
LEASE = 1.0  # a second: a process gone is replaced quickly
RUNNER = replace(FAST_RUNNER, claim_lease=LEASE)


@dataclass
class Process:
    name: str
    store: Store
    http: aiohttp.ClientSession
    runner: JobRunner
    deliverer: RecordingDeliverer
    gets: list[float] = field(default_factory=list)  # when this process polled Kling (monotonic)

    async def halt(self) -> None:
        """What a SIGKILL (or a long stall) leaves: nothing of the runner runs any more, and
        nothing is released."""
        heartbeat = self.runner._heartbeat
        assert heartbeat is not None
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        await self.runner.scheduler.stop()

    def kling_calls(self) -> int:
        stats = self.runner.stats
        return stats.creates + stats.polls + stats.lookups


class TimedBackend(KlingTaskBackend):
    """The production backend, noting when the process polls."""

    def __init__(self, *args: Any, gets: list[float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gets = gets

    async def get(self, job: Job) -> Task:
        self._gets.append(time.monotonic())
        return await super().get(job)


@dataclass
class Pair:
    emulator: KlingEmulator
    where: str | Path
    images: list[Path]
    tmp: Path
    processes: list[Process] = field(default_factory=list)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def process(
        self,
        name: str,
        shards: ShardSet,
        *,
        config: RunnerConfig = RUNNER,
        store: Store | None = None,
        callback_base: str | None = None,
        start: bool = True,
    ) -> Process:
        """A runner as one process would run it (its own store unless one is given)."""
        if store is None:
            store = await Store.open(self.where)
            self._stack.push_async_callback(store.close)
        http = await self._stack.enter_async_context(aiohttp.ClientSession())
        provider = make_provider(
            "kling", base_url=self.emulator.base_url, access_key=ACCESS_KEY, secret_key=SECRET_KEY
        )
        client = KlingClient(http, provider, total_timeout=30.0, retry=FAST_RETRY)
        gets: list[float] = []
        urls = (lambda job: callback_url(callback_base, job.id)) if callback_base else None
        deliverer = RecordingDeliverer()
        runner = JobRunner(
            store,
            TimedBackend(client, callback_url=urls, gets=gets),
            deliverer,
            media_dir=self.tmp / name,
            http=http,
            config=config,
            shards=shards,
            owner=f"test:{name}",
        )
        made = Process(name, store, http, runner, deliverer, gets)
        self.processes.append(made)
        if start:
            await runner.start()
        return made

    async def new_job(self, store: Store, guild_id: int) -> Job:
        """A job stored directly (as a submit in any process would store it)."""
        return await store.create_job(
            NewJob(
                kind=JobKind.ANIMATE,
                guild_id=guild_id,
                channel_id=CHANNEL,
                requester_id=ALICE,
                request=animate_request(prompt="two pictures, panned", image_paths=self.images),
            )
        )

    async def settle(self, store: Store, job_id: str, limit: float = 60.0) -> Job:
        return await settled_job(store, job_id, limit)

    async def settle_state(self, store: Store, job_id: str, *states: JobState) -> None:
        async with asyncio.timeout(60):
            while (job := await store.get_job(job_id)) is None or job.state not in states:
                assert job is None or job.state not in TERMINAL, job.state
                await asyncio.sleep(0.02)

    async def stop_all(self) -> None:
        """A clean stop of every process still running: after it, nothing more can happen."""
        for process in self.processes:
            if process.runner.scheduler.running:
                await process.runner.stop()

    def posted(self) -> list[tuple[str, str]]:
        return [(p.name, job_id) for p in self.processes for job_id, _ in p.deliverer.posted]


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "bot.sqlite3"


@pytest.fixture
async def pair(where: str | Path, tmp_path: Path) -> AsyncIterator[Pair]:
    emulator = KlingEmulator(
        work_dir=tmp_path / "emulator",
        seconds_per_stage=0.0,
        image2video_long_side=160,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
    )
    async with emulator:
        made = Pair(emulator, where, tiny_images(tmp_path / "refs"), tmp_path)
        async with made._stack:
            try:
                yield made
            finally:
                await made.stop_all()


def await_new(pair: Pair, guild_id: int) -> NewJob:
    return NewJob(
        kind=JobKind.ANIMATE,
        guild_id=guild_id,
        channel_id=CHANNEL,
        requester_id=ALICE,
        request=animate_request(prompt="two pictures, panned", image_paths=pair.images),
    )
