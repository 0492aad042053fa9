from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.jobs import JobRunner, RunnerConfig
from bot.shards import ShardSet
from bot.storage import Job, JobState, Store
from tests.bot.jobs.fakes import (
    MemoryKling,
    RecordingDeliverer,
    RecordingObserver,
    ResultServer,
    VirtualTime,
    serve_results,
)


@dataclass
class Rig:
    """Everything a runner test needs; ``restart()`` simulates a process restart."""

    db_path: Path
    media_dir: Path
    http: aiohttp.ClientSession
    time: VirtualTime
    kling: MemoryKling
    deliverer: RecordingDeliverer
    observer: RecordingObserver
    results: ResultServer
    config: RunnerConfig = field(default_factory=RunnerConfig)
    shards: ShardSet = field(default_factory=ShardSet)
    store: Store | None = None
    runner: JobRunner | None = None

    async def start(self) -> JobRunner:
        self.store = await Store.open(self.db_path, clock=self.time)
        self.runner = JobRunner(
            self.store,
            self.kling,
            self.deliverer,
            media_dir=self.media_dir,
            http=self.http,
            observer=self.observer,
            config=self.config,
            clock=self.time,
            sleep=self.time.sleep,
            shards=self.shards,
        )
        runner = self.runner
        self.time.idle = lambda: runner.steps_running == 0
        await runner.start()
        return runner

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def restart(self) -> JobRunner:
        await self.stop()
        return await self.start()

    async def wait_for(
        self, predicate: Callable[[], Awaitable[bool]], *, limit: float = 10.0
    ) -> None:
        """Poll ``predicate`` (it reads the database, which has no change notification)."""
        async with asyncio.timeout(limit):
            while not await predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.005)

    async def wait_state(self, job_id: str, *states: JobState, limit: float = 10.0) -> None:
        async def reached() -> bool:
            assert self.store is not None
            job = await self.store.get_job(job_id)
            if job is not None and job.state not in states:
                # A job that ended otherwise will never get there: say so at once.
                assert not job.state.is_terminal, (job.state, job.status_msg)
            return job is not None and job.state in states

        await self.wait_for(reached, limit=limit)

    async def job(self, job_id: str) -> Job:
        """The job as the database holds it now."""
        assert self.store is not None
        job = await self.store.get_job(job_id)
        assert job is not None
        return job


class UnexpectedErrors(logging.Handler):
    """Collects the runner's unexpected-error log records and every runner made in a test."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.runners: list[JobRunner] = []
        self.expected = False

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "unexpected_error"):
            self.records.append(record)

    def expect(self) -> None:
        """This test provokes unexpected errors on purpose."""
        self.expected = True

    def counted(self) -> int:
        return sum(runner.stats.unexpected_errors for runner in self.runners)


@pytest.fixture(autouse=True)
def unexpected_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[UnexpectedErrors]:
    """Every runner test fails if the runner's catch-all fired: a normal flow never needs it."""
    checker = UnexpectedErrors()
    original_init = JobRunner.__init__

    def tracked_init(self: JobRunner, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        checker.runners.append(self)

    monkeypatch.setattr(JobRunner, "__init__", tracked_init)
    logger = logging.getLogger("bot.jobs.runner")
    logger.addHandler(checker)
    try:
        yield checker
    finally:
        logger.removeHandler(checker)
    if checker.expected:
        assert checker.records and checker.counted() == len(checker.records)
        return
    details = "; ".join(
        f"{r.getMessage()}: {r.exc_info[1]!r}" if r.exc_info else r.getMessage()
        for r in checker.records
    )
    assert not checker.records, f"the runner's catch-all fired: {details}"
    assert checker.counted() == 0


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    time = VirtualTime()
    observer = RecordingObserver(clock=time)
    async with aiohttp.ClientSession() as http, serve_results(ResultServer()) as results:
        kling = MemoryKling(time)
        kling.video_url = results.url()
        made = Rig(
            db_path=tmp_path / "bot.sqlite3",
            media_dir=tmp_path / "media",
            http=http,
            time=time,
            kling=kling,
            deliverer=RecordingDeliverer(),
            observer=observer,
            results=results,
        )
        try:
            yield made
        finally:
            await made.stop()
