"""Job runner: 1,000 jobs in flight at once, from the local queue to a delivered result.

The real JobRunner, SQLite store and KlingClient (real HTTP) with the production RunnerConfig
(poll 5 s at first, x1.5 per poll up to 30 s). Kling is a minimal aiohttp stand-in in a child
process that answers create/get at once and finishes each task `--task-seconds` after it was
created (the emulator would render a real video per task, which would dominate the figures).
Delivery posts nowhere (a counter) but the result file is really downloaded. The runner's own
process is measured: CPU time (getrusage), wall time, peak RSS; the stand-in counts requests.

Run: .venv/bin/python bench/bench_runner.py [--jobs 1000] [--task-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from PIL import Image  # noqa: E402

from bot.jobs import JobRunner, KlingTaskBackend, RunnerConfig, animate_request  # noqa: E402
from bot.kling import KlingClient, make_provider  # noqa: E402
from bot.storage import Job, JobKind, JobState, NewJob, Store  # noqa: E402

BASE = "/v1/videos/multi-image2video"
RESULT_BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(16 * 1024)


def kling_stand_in(port_out: Any, task_seconds: float) -> None:
    """Create and get, answered at once; counts every request. Runs in a child process."""
    tasks: dict[str, dict[str, Any]] = {}
    by_external: dict[str, str] = {}
    calls: Counter[str] = Counter()

    def envelope(data: Any) -> web.Response:
        return web.json_response({"code": 0, "message": "SUCCEED",
                                  "request_id": uuid.uuid4().hex, "data": data})

    def payload(task: dict[str, Any], base: str) -> dict[str, Any]:
        done = time.time() - task["created"] >= task_seconds
        status = "succeed" if done else "processing"
        videos = [{"id": "v" + task["id"], "url": f"{base}/files/{task['id']}.mp4",
                   "duration": "5"}] if done else []
        return {"task_id": task["id"], "task_status": status, "task_status_msg": "",
                "task_info": {"external_task_id": task["external"]},
                "task_result": {"videos": videos}, "final_unit_deduction": "1" if done else "0",
                "created_at": int(task["created"] * 1000), "updated_at": int(time.time() * 1000)}

    async def create(request: web.Request) -> web.Response:
        calls["create"] += 1
        body = await request.json()
        task_id = str(800_000_000_000_000_000 + len(tasks))
        tasks[task_id] = {"id": task_id, "external": body["external_task_id"],
                          "created": time.time()}
        by_external[body["external_task_id"]] = task_id
        return envelope({"task_id": task_id, "task_status": "submitted",
                         "task_info": {"external_task_id": body["external_task_id"]},
                         "created_at": int(time.time() * 1000)})

    async def get(request: web.Request) -> web.Response:
        key = request.match_info["task_id"]
        calls["get"] += 1
        task = tasks.get(key) or tasks.get(by_external.get(key, ""))
        if task is None:
            return web.json_response({"code": 1203, "message": "not found"}, status=404)
        return envelope(payload(task, f"http://{request.host}"))

    async def file(request: web.Request) -> web.Response:
        calls["download"] += 1
        return web.Response(body=RESULT_BYTES, content_type="video/mp4")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(dict(calls))

    async def serve() -> None:
        app = web.Application()
        app.router.add_post(BASE, create)
        app.router.add_get(BASE + "/{task_id}", get)
        app.router.add_get("/files/{name}", file)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(serve())


class CountingDeliverer:
    def __init__(self) -> None:
        self.posted = 0
        self.done = asyncio.Event()
        self.expected = 0

    async def deliver(self, job: Job, video: Path | None) -> int:
        self.posted += 1
        if self.posted >= self.expected:
            self.done.set()
        return self.posted

    async def find_delivery(self, job: Job) -> int | None:
        return None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(args: argparse.Namespace, base_url: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    images = []
    for index in range(2):
        path = work / f"ref{index}.png"
        Image.new("RGB", (400, 400), (40 * index, 90, 160)).save(path)
        images.append(path)
    store = await Store.open(work / "bot.sqlite3")
    for _ in range(args.jobs):
        await store.create_job(NewJob(
            kind=JobKind.ANIMATE, guild_id=1, channel_id=2, requester_id=3,
            request=animate_request(prompt="a slow pan", image_paths=images)))
    deliverer = CountingDeliverer()
    deliverer.expected = args.jobs
    async with aiohttp.ClientSession() as http:
        client = KlingClient(http, make_provider("emulator", base_url=base_url))
        runner = JobRunner(store, KlingTaskBackend(client), deliverer, media_dir=work / "media",
                           http=http, config=RunnerConfig())
        cpu_before, began = cpu_seconds(), time.monotonic()
        await runner.start()
        peak_in_flight = 0
        deadline = began + args.time_limit
        while not deliverer.done.is_set() and time.monotonic() < deadline:
            peak_in_flight = max(peak_in_flight, runner.in_flight)
            await asyncio.sleep(0.5)
        wall = time.monotonic() - began
        cpu = cpu_seconds() - cpu_before
        await runner.stop()
        async with http.get(base_url + "/stats") as response:
            calls = Counter(await response.json())
    jobs = await _all_jobs(store)
    await store.close()
    states = Counter(job.state for job in jobs)
    # Minutes each job spent in flight (runner start to delivered), summed over jobs.
    start = time.time() - (time.monotonic() - began)
    job_minutes = sum(max(0.0, (j.delivered_at or time.time()) - start) for j in jobs) / 60
    report(args, calls, wall, cpu, peak_in_flight, states, runner.stats.wakeups, job_minutes)


async def _all_jobs(store: Store) -> list[Job]:
    rows = await store._fetchall("SELECT id FROM jobs")
    return [job for row in rows if (job := await store.get_job(row["id"])) is not None]


def report(args: argparse.Namespace, calls: Counter[str], wall: float, cpu: float,
           peak: int, states: Counter[JobState], wakeups: int, job_minutes: float) -> None:
    kling = calls["create"] + calls["get"]
    jobs = args.jobs
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"jobs: {jobs} queued at once, each finishing {args.task_seconds:g} s after Kling "
          f"accepts it; peak in flight {peak}; final states "
          f"{ {s.value: n for s, n in states.items()} }")
    print(f"Kling requests: {kling} (create {calls['create']}, get {calls['get']}), "
          f"plus {calls['download']} result downloads")
    print(f"Kling requests per job: {kling / jobs:.2f}; per job per minute in flight: "
          f"{kling / job_minutes:.2f}; all jobs together: {kling / (wall / 60):.0f}/min")
    print(f"wall time: {wall:.1f} s; runner CPU time: {cpu:.2f} s "
          f"({cpu / jobs * 1000:.2f} ms per job, {cpu / wall * 100:.1f}% of one core); "
          f"scheduler wake-ups: {wakeups}")
    print(f"peak RSS of the runner's process: {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--task-seconds", type=float, default=60.0)
    parser.add_argument("--time-limit", type=float, default=600.0)
    args = parser.parse_args()
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=kling_stand_in, args=(send, args.task_seconds),
                                     daemon=True)
    server.start()
    try:
        port = receive.recv()
        asyncio.run(run(args, f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
