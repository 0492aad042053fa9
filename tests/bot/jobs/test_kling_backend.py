"""The runner with the real KlingClient against a small Kling stand-in on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.jobs import JobRunner, KlingTaskBackend, RunnerConfig, animate_request, edit_request
from bot.kling.auth import EmulatorProvider
from bot.kling.client import KlingClient
from bot.kling.retry import RetryPolicy
from bot.storage import JobKind, JobState, NewJob, Store
from tests.bot.jobs.fakes import RESULT_BYTES, RecordingDeliverer, RecordingObserver

EDIT = "/v1/videos/multi-elements"
MULTI = "/v1/videos/multi-image2video"
FAST = RunnerConfig(
    poll_first=0.02, poll_max=0.05, queue_retry_first=0.02, reconcile_first=0.02,
    delivery_retry_first=0.02, resume_spread=0.0,
)  # fmt: skip


@dataclass
class TaskKling:
    """Creates tasks, answers queries (processing for ``polls_needed`` polls, then succeed)."""

    polls_needed: int = 2
    hold_first_create: bool = False  # store, then answer only once released (the client gives up)
    busy_creates: int = 0  # answer 1303 to this many creates
    posts: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # request paths of every GET
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_url: str = ""
    released: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9_100_000))

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append(body)
        if self.busy_creates > 0:
            self.busy_creates -= 1
            return web.json_response(
                {"code": 1303, "message": "parallel task over resource pack limit"}, status=429
            )
        external = body["external_task_id"]
        if any(t["external"] == external for t in self.tasks.values()):
            return web.json_response({"code": 1201, "message": "duplicate"}, status=400)
        task_id = str(next(self._ids))
        self.tasks[task_id] = {"external": external, "path": request.path, "polls": 0}
        if self.hold_first_create and len(self.posts) == 1:
            await self.released.wait()
        return _ok(self._view(task_id, count=False))

    async def query(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        self.queries.append(request.path)
        for task_id, task in self.tasks.items():
            if key in (task_id, task["external"]):
                return _ok(self._view(task_id, count=key == task_id))
        return web.json_response({"code": 1203, "message": "task not found"}, status=404)

    async def result(self, request: web.Request) -> web.Response:
        return web.Response(body=RESULT_BYTES, content_type="video/mp4")

    def _view(self, task_id: str, *, count: bool) -> dict[str, Any]:
        task = self.tasks[task_id]
        if count:
            task["polls"] += 1
        done = task["polls"] >= self.polls_needed
        view: dict[str, Any] = {
            "task_id": task_id,
            "task_status": "succeed" if done else ("processing" if task["polls"] else "submitted"),
            "task_info": {"external_task_id": task["external"]},
            "created_at": 1774805076166,
            "updated_at": 1774805076166,
        }
        if done:
            url = f"{self.base_url}/results/{task_id}.mp4"
            view["task_result"] = {"videos": [{"id": "v", "url": url, "duration": "5.0"}]}
            view["final_unit_deduction"] = "4"
        return view


def _ok(data: dict[str, Any]) -> web.Response:
    return web.json_response({"code": 0, "message": "SUCCEED", "request_id": "r", "data": data})


@dataclass
class Live:
    kling: TaskKling
    store: Store
    runner: JobRunner
    deliverer: RecordingDeliverer
    observer: RecordingObserver
    media: Path

    async def wait_state(self, job_id: str, state: JobState) -> None:
        async with asyncio.timeout(30):  # only stops a job that would hang
            while True:
                job = await self.store.get_job(job_id)
                if job is not None and job.state is state:
                    return
                # A job that ended otherwise will never get there: say so at once.
                assert job is None or not job.state.is_terminal, (job.state, job.status_msg)
                await asyncio.sleep(0.01)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    kling = TaskKling()
    app = web.Application()
    for base in (EDIT, MULTI):
        app.router.add_post(base, kling.create)
        app.router.add_get(base + "/{key}", kling.query)
    app.router.add_get("/results/{name}", kling.result)
    server = web.AppRunner(app, shutdown_timeout=0.2)
    await server.setup()
    site = web.TCPSite(server, "127.0.0.1", 0)
    await site.start()
    kling.base_url = f"http://127.0.0.1:{server.addresses[0][1]}"
    store = await Store.open(tmp_path / "bot.sqlite3")
    async with aiohttp.ClientSession() as http:
        client = KlingClient(
            http,
            EmulatorProvider(base_url=kling.base_url),
            # Loopback calls answer far within this on a busy machine; a held create never does.
            total_timeout=1.0,
            retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
            reconcile_delay=0.01,
        )
        deliverer, observer = RecordingDeliverer(), RecordingObserver()
        runner = JobRunner(
            store,
            KlingTaskBackend(client),
            deliverer,
            media_dir=tmp_path / "media",
            http=http,
            observer=observer,
            config=FAST,
        )
        await runner.start()
        try:
            yield Live(kling, store, runner, deliverer, observer, tmp_path)
        finally:
            await runner.stop()
            await store.close()
            kling.released.set()
            await server.cleanup()


def _png(tmp: Path, name: str, payload: bytes) -> Path:
    path = tmp / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + payload)
    return path


async def test_swap_job_end_to_end(live: Live) -> None:
    ref = _png(live.media, "ref.png", b"reference")
    request = edit_request(
        kling_session_id="847570360458960960",
        kind=JobKind.EDIT_SWAP,
        prompt="swap the hat from <<<image_1>>> for the cap from <<<video_1>>>",
        mode="pro",
        duration="10",
        image_paths=[ref],
    )
    job = await live.runner.submit(NewJob(JobKind.EDIT_SWAP, 1, 2, 3, request))
    await live.wait_state(job.id, JobState.DELIVERED)

    [body] = live.kling.posts
    assert body["external_task_id"] == job.id
    assert (body["edit_mode"], body["mode"], body["duration"]) == ("swap", "pro", "10")
    assert body["prompt"] == request["prompt"]
    assert base64.b64decode(body["image_list"][0]["image"]) == ref.read_bytes()
    done = await live.store.get_job(job.id)
    assert done is not None and done.units == 4.0
    [(_, video, data)] = live.deliverer.calls
    assert video is not None and data == RESULT_BYTES


async def test_create_timeout_is_reconciled_into_one_task(live: Live) -> None:
    live.kling.hold_first_create = True  # Kling stores the task but answers after the timeout
    request = edit_request(
        kling_session_id="s", kind=JobKind.EDIT_REMOVAL, prompt="Delete the car from <<<video_1>>>"
    )
    job = await live.runner.submit(NewJob(JobKind.EDIT_REMOVAL, 1, 2, 3, request))
    await live.wait_state(job.id, JobState.DELIVERED)
    assert len(live.kling.tasks) == 1
    assert len(live.kling.posts) == 1  # the lookup found it: nothing was resent
    assert len(live.deliverer.posted) == 1
    # The lookup by our id and every poll went to the edit endpoint, not the animation one.
    assert f"{EDIT}/{job.id}" in live.kling.queries
    assert all(path.startswith(EDIT + "/") for path in live.kling.queries)


async def test_concurrency_full_from_kling_queues_the_job(live: Live) -> None:
    live.kling.busy_creates = 3  # the client retries once per attempt, so the runner sees 1303
    request = animate_request(
        prompt="two dogs play", image_paths=[_png(live.media, "a.png", b"a")] * 2
    )
    job = await live.runner.submit(NewJob(JobKind.ANIMATE, 1, 2, 3, request))
    await live.wait_state(job.id, JobState.DELIVERED)
    states = live.observer.states_of(job.id)
    assert states[:3] == [JobState.SUBMITTING, JobState.QUEUED, JobState.SUBMITTING]
    assert len(live.kling.tasks) == 1
    assert live.kling.posts[-1]["aspect_ratio"] == "16:9"
    [task] = live.kling.tasks.values()
    assert task["path"] == MULTI


async def test_missing_reference_image_fails_before_any_call(live: Live) -> None:
    request = edit_request(
        kling_session_id="s",
        kind=JobKind.EDIT_ADDITION,
        prompt="add the lamp from <<<image_1>>> to <<<video_1>>>",
        image_paths=[live.media / "gone.png"],
    )
    job = await live.runner.submit(NewJob(JobKind.EDIT_ADDITION, 1, 2, 3, request))
    await live.wait_state(job.id, JobState.FAILED)
    failed = await live.store.get_job(job.id)
    assert failed is not None and failed.status_msg is not None
    assert "reference image" in failed.status_msg
    assert live.kling.posts == []
