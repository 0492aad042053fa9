"""Test doubles for the job runner: virtual time, an in-memory Kling, a deliverer, an observer,
and a tiny aiohttp server on 127.0.0.1 that serves result videos."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.kling.errors import KlingError
from bot.kling.models import Task, TaskStatus, TaskVideo
from bot.storage import Job, JobKind, JobState, NewJob

GUILD = 1_000_000_000_000_000_001
CHANNEL = 1_100_000_000_000_000_002
ALICE = 900_000_000_000_000_001
RESULT_BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40


class VirtualTime:
    """A clock whose ``sleep`` jumps forward, but only once the runner has no step running.

    Waiting for quiescence keeps the order of events the same as with real time: nothing that
    would happen "now" is skipped over by the jump.
    """

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.now = start
        self.idle: Callable[[], bool] = lambda: True
        self.running = asyncio.Event()  # cleared: time stands still (sleepers wait)
        self.running.set()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        await self.running.wait()
        await self.quiet()
        # Still here (not cancelled by a wake-up in the meantime): the deadline has come.
        self.now += max(0.0, delay)

    async def quiet(self) -> None:
        """Wait until the runner has run everything due now: what it has not done by then, it
        will not do before virtual time moves."""
        while not await self._settled():  # noqa: ASYNC110 - waits on threads and sockets too
            await asyncio.sleep(0.001)  # real time: let database threads and sockets finish

    async def _settled(self) -> bool:
        """No step running, and none started or woken during a few loop turns."""
        for _ in range(20):
            if not self.idle():
                return False
            await asyncio.sleep(0)
        return self.idle()


@dataclass
class FakeTask:
    task_id: str
    external_task_id: str
    polls_needed: int
    outcome: TaskStatus
    status_msg: str | None
    video_url: str | None
    units: float | None
    polls: int = 0

    def view(self) -> Task:
        done = self.polls >= self.polls_needed
        status = self.outcome if done else TaskStatus.PROCESSING
        if self.polls == 0:
            status = TaskStatus.SUBMITTED if not done else status
        videos = ()
        if done and status is TaskStatus.SUCCEEDED and self.video_url:
            videos = (TaskVideo("v1", self.video_url, None, 5.0, None),)
        return Task(
            task_id=self.task_id,
            status=status,
            status_msg=self.status_msg if done else None,
            external_task_id=self.external_task_id,
            videos=videos,
            final_unit_deduction=self.units if done else None,
            created_at=None,
            updated_at=None,
        )


CreateAnswer = KlingError | Callable[[Job], Any] | str


class MemoryKling:
    """In-memory Kling task API: ``script_create`` queues errors (or "store-then-X" answers)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.tasks: dict[str, FakeTask] = {}
        self.by_external: dict[str, FakeTask] = {}
        self.creates: list[tuple[str, float]] = []
        self.gets: list[tuple[str, float]] = []
        self.finds: list[str] = []
        self.create_script: deque[CreateAnswer] = deque()
        self.polls_needed = 3
        self.outcome = TaskStatus.SUCCEEDED
        self.status_msg: str | None = None
        self.video_url: str | None = None
        self.units: float | None = 2.5
        self.hang_create = asyncio.Event()
        self.hang_create.set()
        self._ids = itertools.count(8_000_000_000)

    def script_create(self, *answers: CreateAnswer) -> None:
        self.create_script.extend(answers)

    def _store(self, job: Job) -> FakeTask:
        if job.id in self.by_external:  # Kling refuses a duplicate external id
            raise AssertionError(f"job {job.id} created twice")
        task = FakeTask(
            task_id=str(next(self._ids)),
            external_task_id=job.id,
            polls_needed=self.polls_needed,
            outcome=self.outcome,
            status_msg=self.status_msg,
            video_url=self.video_url,
            units=self.units,
        )
        self.tasks[task.task_id] = task
        self.by_external[job.id] = task
        return task

    async def create(self, job: Job) -> Task:
        self.creates.append((job.id, self.clock()))
        answer = self.create_script.popleft() if self.create_script else "ok"
        if isinstance(answer, KlingError):
            raise answer
        if answer == "store-then-hang":
            self._store(job)
            await asyncio.Event().wait()
        if answer == "hang-before-store":
            await asyncio.Event().wait()
        if callable(answer):
            answer(job)
        if isinstance(answer, tuple):  # ("store-then-raise", error)
            self._store(job)
            raise answer[1]
        return self._store(job).view()

    async def get(self, job: Job) -> Task:
        assert job.kling_task_id is not None
        self.gets.append((job.id, self.clock()))
        task = self.tasks[job.kling_task_id]
        task.polls += 1
        return task.view()

    async def find(self, job: Job) -> Task | None:
        self.finds.append(job.id)
        task = self.by_external.get(job.id)
        return task.view() if task else None


@dataclass
class RecordingDeliverer:
    """Posts into a dict keyed by delivery key, like a channel searched by nonce."""

    posted: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, Path | None, bytes | None]] = field(default_factory=list)
    finds: list[str] = field(default_factory=list)
    fail_times: int = 0
    hang_after_post: bool = False
    hang_before_post: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7_000))

    async def deliver(self, job: Job, video: Path | None) -> int:
        data = await asyncio.to_thread(video.read_bytes) if video else None
        self.calls.append((job.id, video, data))
        if self.hang_before_post:
            await asyncio.Event().wait()
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("Discord said 500")
        assert job.delivery_key is not None
        message_id = next(self._ids)
        self.posted[job.delivery_key] = message_id
        if self.hang_after_post:
            await asyncio.Event().wait()
        return message_id

    async def find_delivery(self, job: Job) -> int | None:
        assert job.delivery_key is not None
        self.finds.append(job.id)
        return self.posted.get(job.delivery_key)


@dataclass
class RecordingObserver:
    states: list[tuple[str, JobState]] = field(default_factory=list)
    progress: list[tuple[str, float, float | None, float]] = field(default_factory=list)
    finished: list[Job] = field(default_factory=list)
    clock: Callable[[], float] = lambda: 0.0

    async def on_state_change(self, job: Job) -> None:
        self.states.append((job.id, job.state))

    async def on_progress(self, job: Job, elapsed: float, estimate: float | None) -> None:
        self.progress.append((job.id, elapsed, estimate, self.clock()))

    async def on_finished(self, job: Job) -> None:
        self.finished.append(job)

    def states_of(self, job_id: str) -> list[JobState]:
        return [state for jid, state in self.states if jid == job_id]


def new_job(request: dict[str, Any] | None = None, *, guild: int = GUILD) -> NewJob:
    return NewJob(
        kind=JobKind.EDIT_REMOVAL,
        guild_id=guild,
        channel_id=CHANNEL,
        requester_id=ALICE,
        request=request or {"prompt": "Delete the red car from <<<video_1>>>"},
    )


@dataclass
class ResultServer:
    """Serves ``RESULT_BYTES`` (or a chosen body) at /results/<name>.mp4 on 127.0.0.1."""

    body: bytes = RESULT_BYTES
    hits: int = 0
    base_url: str = ""

    def url(self, name: str = "result") -> str:
        return f"{self.base_url}/results/{name}.mp4"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        if request.match_info["name"] == "missing":
            return web.Response(status=404)
        return web.Response(body=self.body, content_type="video/mp4")


@asynccontextmanager
async def serve_results(server: ResultServer) -> AsyncIterator[ResultServer]:
    app = web.Application()
    app.router.add_get("/results/{name}.mp4", server._handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()
