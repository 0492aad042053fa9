"""Job runner: 1,000 jobs in flight at once, from the local queue to a delivered result; the job
cards with 20,000 jobs waiting in the local queue; the quota queries as a server's history grows.

The real JobRunner, store and KlingClient (real HTTP) with the production RunnerConfig (poll 5 s
at first, x1.5 per poll up to 30 s), on SQLite and on PostgreSQL (``--database``; a throwaway
cluster, bench/databases.py), each case side by side, then two runners (shards 0 and 1 of 2,
each in its own process) sharing one database: each must run only its half, at the same Kling
requests per job (bench/runner_cases.py). Kling is a minimal aiohttp stand-in in a child
process that answers create/get at once and finishes each task `--task-seconds` after it was
created (the emulator would render a real video per task, which would dominate the figures).
Delivery posts nowhere (a counter) but the result file is really downloaded. Each runner's own
process is measured: CPU time (getrusage), wall time, peak RSS; the stand-in counts requests per
job; on PostgreSQL the server's CPU is added up too (with SQLite that work is in the runner).

Job cards (``--queued 20000``): the real runner and the real job-card observer
(``cogs.jobs.job_cards``, posting to a stand-in channel that only counts edits), with an
in-process Kling that has one slot and answers 1303 beyond it, so the rest of the jobs wait in the
local queue. Reported: CPU per card edit and per refresh of every card (the first submission after
the 10 s progress interval re-renders every waiting card with its new place in line), and CPU per
submission while no card is due.

Quota queries (``--history 10,1000,10000``): ``count_active_jobs``, ``recent_jobs`` and the quota
check inside ``create_job`` on a server with that many jobs in its history.

Run: .venv/bin/python bench/bench_runner.py [--jobs 1000] [--task-seconds 60] [--queued 20000]
     [--history 10,1000,10000] [--only runner|cards|queries] [--database sqlite|postgresql|both]
(default: both when PostgreSQL's initdb is installed, else SQLite with a note).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from bench.databases import Databases  # noqa: E402
from bench.runner_cases import report, run_case  # noqa: E402
from bot.jobs import JobRunner, RunnerConfig  # noqa: E402
from bot.kling.errors import ConcurrencyFullError  # noqa: E402
from bot.kling.models import Task, TaskStatus  # noqa: E402
from bot.shards import ShardSet  # noqa: E402
from bot.storage import Job, JobKind, JobLimits, NewJob, Store  # noqa: E402
from cogs.jobs.job_cards import JobCards  # noqa: E402

BASE = "/v1/videos/multi-image2video"
RESULT_BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(16 * 1024)


def kling_stand_in(port_out: Any, task_seconds: float) -> None:
    """Create and get, answered at once; counts every request. Runs in a child process."""
    tasks: dict[str, dict[str, Any]] = {}
    by_external: dict[str, str] = {}
    calls: Counter[str] = Counter()
    per_job: defaultdict[str, Counter[str]] = defaultdict(Counter)  # by external_task_id

    def envelope(data: Any) -> web.Response:
        return web.json_response(
            {"code": 0, "message": "SUCCEED", "request_id": uuid.uuid4().hex, "data": data}
        )

    def payload(task: dict[str, Any], base: str) -> dict[str, Any]:
        done = time.time() - task["created"] >= task_seconds
        status = "succeed" if done else "processing"
        videos = (
            [{"id": "v" + task["id"], "url": f"{base}/files/{task['id']}.mp4", "duration": "5"}]
            if done
            else []
        )
        return {
            "task_id": task["id"],
            "task_status": status,
            "task_status_msg": "",
            "task_info": {"external_task_id": task["external"]},
            "task_result": {"videos": videos},
            "final_unit_deduction": "1" if done else "0",
            "created_at": int(task["created"] * 1000),
            "updated_at": int(time.time() * 1000),
        }

    async def create(request: web.Request) -> web.Response:
        calls["create"] += 1
        body = await request.json()
        task_id = str(800_000_000_000_000_000 + len(tasks))
        tasks[task_id] = {
            "id": task_id,
            "external": body["external_task_id"],
            "created": time.time(),
        }
        by_external[body["external_task_id"]] = task_id
        per_job[body["external_task_id"]]["create"] += 1
        return envelope(
            {
                "task_id": task_id,
                "task_status": "submitted",
                "task_info": {"external_task_id": body["external_task_id"]},
                "created_at": int(time.time() * 1000),
            }
        )

    async def get(request: web.Request) -> web.Response:
        key = request.match_info["task_id"]
        calls["get"] += 1
        task = tasks.get(key) or tasks.get(by_external.get(key, ""))
        if task is None:
            return web.json_response({"code": 1203, "message": "not found"}, status=404)
        per_job[task["external"]]["get"] += 1
        return envelope(payload(task, f"http://{request.host}"))

    async def file(request: web.Request) -> web.Response:
        calls["download"] += 1
        task = tasks.get(request.match_info["name"].removesuffix(".mp4"))
        if task is not None:
            per_job[task["external"]]["download"] += 1
        return web.Response(body=RESULT_BYTES, content_type="video/mp4")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"calls": dict(calls), "per_job": per_job})

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

    async def deliver(self, job: Job, video: Path | None) -> int:
        self.posted += 1
        return self.posted

    async def find_delivery(self, job: Job) -> int | None:
        return None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- job cards with a long local queue ------------------------------------------------------------


class OneSlotKling:
    """Kling with one slot: a create while a task runs is refused with 1303 (nothing created)."""

    def __init__(self) -> None:
        self.running: str | None = None
        self.finished: set[str] = set()

    async def create(self, job: Job) -> Task:
        if self.running is not None:
            raise ConcurrencyFullError("parallel task over resource pack limit", code=1303)
        self.running = job.id
        return self._task(job, TaskStatus.SUBMITTED)

    async def get(self, job: Job) -> Task:
        done = job.id in self.finished
        return self._task(job, TaskStatus.FAILED if done else TaskStatus.PROCESSING)

    async def find(self, job: Job) -> Task | None:
        return None

    def finish(self) -> str:
        """The running task ends (failed, so nothing is downloaded): its slot is free."""
        assert self.running is not None
        job_id, self.running = self.running, None
        self.finished.add(job_id)
        return job_id

    @staticmethod
    def _task(job: Job, status: TaskStatus) -> Task:
        return Task(
            task_id="t" + job.id,
            status=status,
            status_msg="stopped",
            external_task_id=job.id,
            videos=(),
            final_unit_deduction=None,
            created_at=None,
            updated_at=None,
        )


class CardChannel:
    """What the job cards use of a Discord channel; every edit is counted, nothing is sent."""

    def __init__(self) -> None:
        self.sent = 0

    def get_partial_message(self, message_id: int) -> CardChannel:
        return self

    async def edit(self, *, content: str, allowed_mentions: Any) -> None:
        assert "Kling job" in content

    async def send(self, content: str, **kwargs: Any) -> Any:
        self.sent += 1
        return type("Sent", (), {"id": 10_000_000 + self.sent})()


class CardClient:
    """What the job cards use of the Discord client."""

    def __init__(self) -> None:
        self.channel = CardChannel()

    def get_partial_messageable(self, channel_id: int, *, guild_id: int | None = None) -> Any:
        return self.channel

    def get_guild(self, guild_id: int) -> None:
        return None


class WalkedQueue:
    """The reference: a card's place found by walking the queue, as every edit once did."""

    def __init__(self, queued: list[Job], runner: JobRunner) -> None:
        self._queued = queued
        self._jobs = {job.id: job for job in queued}
        self._runner = runner

    def queue_position(self, job_id: str) -> int | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        place = 0
        for queued in self._queued:
            if queued.guild_id == job.guild_id:
                place += 1
                if queued.id == job_id:
                    return place
        return None

    def estimate(self, kind: JobKind) -> float | None:
        return self._runner.estimate(kind)


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def forever(delay: float) -> None:
    """The runner's sleep: time moves only when the benchmark moves it."""
    await asyncio.Event().wait()


async def settle(runner: JobRunner, cards: JobCards) -> None:
    """Until the runner has no step running and no card edit is pending."""
    last: tuple[int, int] | None = None
    while True:
        await asyncio.sleep(0.05)
        seen = (cards.edits, len(asyncio.all_tasks()))
        if runner.steps_running == 0 and seen == last:
            return
        last = seen


async def run_cards(args: argparse.Namespace, backend: str, target: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-cards-"))
    clock = FakeClock()
    store = await Store.open(target, clock=clock)
    request = {"prompt": "a slow pan across the harbour", "mode": "std", "duration": 5}
    for _ in range(args.queued):
        await store.create_job(
            NewJob(kind=JobKind.ANIMATE, guild_id=1, channel_id=2, requester_id=3, request=request)
        )
    await store._write_statement("UPDATE jobs SET card_message_id = rowid + 1000")
    kling = OneSlotKling()
    holder: dict[str, Any] = {}
    cards = JobCards(
        CardClient(),
        store=lambda: store,
        runner=lambda: holder.get("view"),  # type: ignore[arg-type]
        clock=clock,
        wall_clock=clock,
        sleep=lambda _: asyncio.sleep(0),
    )
    async with aiohttp.ClientSession() as http:
        runner = JobRunner(
            store,
            kling,
            CountingDeliverer(),
            media_dir=work / "media",
            http=http,
            observer=cards,
            config=RunnerConfig(),
            clock=clock,
            sleep=forever,
        )
        holder["view"] = runner
        await runner.start()  # the head goes to Kling's slot; every card shows its place
        await settle(runner, cards)
        interval = runner.config.progress_interval

        # The queue moves after the progress interval: every waiting card shows its new place.
        clock.now += interval
        cpu0, edits0 = cpu_seconds(), cards.edits
        runner.poll_soon(kling.finish())
        await settle(runner, cards)
        refresh_cpu, refresh_edits = cpu_seconds() - cpu0, cards.edits - edits0

        # The queue moves again before any card is due: only the moving jobs' cards change.
        rounds = args.submissions
        cpu0, edits0 = cpu_seconds(), cards.edits
        for _ in range(rounds):
            clock.now += interval / (2 * rounds)
            runner.poll_soon(kling.finish())
            await settle(runner, cards)
        submit_cpu, submit_edits = cpu_seconds() - cpu0, cards.edits - edits0

        # Observer-driven refresh of every waiting card: the runner's places vs the walk.
        queued = await store.queued_jobs()
        walked = WalkedQueue(queued, runner)
        sample = random.Random(7).sample(queued, 50)
        assert all(runner.queue_position(j.id) == walked.queue_position(j.id) for j in sample)
        timings = {}
        for name, view in (("runner", runner), ("walk", walked)):
            holder["view"] = view
            clock.now += interval
            cpu0, edits0 = cpu_seconds(), cards.edits
            for job in queued:
                await cards.on_progress(job, 0.0, None)
            await settle(runner, cards)
            timings[name] = (cpu_seconds() - cpu0, cards.edits - edits0)
        holder["view"] = runner
        await runner.stop()
    await cards.close()
    await store.close()
    print(
        f"\njob cards on {backend}: {args.queued} jobs waiting in one server's local queue, "
        "Kling full"
    )
    print(
        f"  the queue moves after the {interval:g} s progress interval: {refresh_cpu:.2f} s CPU "
        f"for {refresh_edits} card edits ({refresh_cpu / max(1, refresh_edits) * 1e6:.0f} µs "
        "per edit, runner and cards together)"
    )
    print(
        f"  the queue moves with no card due: {submit_cpu / rounds * 1000:.2f} ms CPU per "
        f"submission ({submit_edits / rounds:.1f} card edits each: the jobs that moved)"
    )
    (ours, n_ours), (walk, n_walk) = timings["runner"], timings["walk"]
    print(
        f"  refresh of every card through the observer: {ours:.2f} s CPU "
        f"({ours / max(1, n_ours) * 1e6:.0f} µs per edit) vs {walk:.2f} s "
        f"({walk / max(1, n_walk) * 1e6:.0f} µs per edit) when each place is found by walking "
        f"the queue: {ours / walk:.3f}x"
    )


# -- quota queries as a server's history grows -----------------------------------------------------


async def run_queries(args: argparse.Namespace, backend: str, databases: Databases) -> None:
    print(f"\nquota queries on {backend} (median of 200 calls), per server history size:")
    for size in args.history:
        store = await Store.open(databases.new(backend))
        await _fill_history(store, size, servers=4, members=20)
        figures = await _time_queries(store)
        await store.close()
        print(f"  {size:>6} jobs: " + "; ".join(figures))


async def _time_queries(store: Store) -> list[str]:
    guild, member = 2, 7
    limits = JobLimits(daily_jobs_per_member=10**6, concurrent_jobs_per_guild=10**6)
    new = NewJob(
        kind=JobKind.ANIMATE,
        guild_id=guild,
        channel_id=5,
        requester_id=member,
        request={"prompt": "x"},
    )
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "count_active_jobs": lambda: store.count_active_jobs(guild),
        "count_active_jobs(member)": lambda: store.count_active_jobs(guild, user_id=member),
        "recent_jobs": lambda: store.recent_jobs(guild),
        "recent_jobs(member)": lambda: store.recent_jobs(guild, user_id=member),
        "create_job with limits": lambda: store.create_job(new, limits=limits),
    }
    figures = []
    for name, call in calls.items():
        times = []
        for _ in range(200):
            began = time.perf_counter()
            await call()
            times.append(time.perf_counter() - began)
        figures.append(f"{name} {statistics.median(times) * 1000:.3f} ms")
    return figures


async def _fill_history(store: Store, size: int, *, servers: int, members: int) -> None:
    """``size`` jobs per server over the last 30 days, all finished but the newest few."""
    now = time.time()
    rows = []
    for guild in range(1, servers + 1):
        for n in range(size):
            created = now - 30 * 86400 * (1 - n / size)
            active = n >= size - 3
            state = "processing" if active else ("delivered" if n % 5 else "failed")
            rows.append(
                (
                    uuid.uuid4().hex,
                    "animate",
                    guild,
                    5,
                    n % members,
                    "{}",
                    state,
                    created,
                    created,
                    created + 5,
                    None if active else created + 90,
                )
            )

    async def body(conn: Any) -> None:
        await conn.executemany(
            "INSERT INTO jobs (id, kind, guild_id, channel_id, requester_id, request_json, state,"
            " queued_at, created_at, submitted_at, finished_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, row[7]) for row in rows],
        )

    await store._write(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--task-seconds", type=float, default=60.0)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--queued", type=int, default=20_000)
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument(
        "--history", type=lambda v: [int(x) for x in v.split(",")], default=[10, 1000, 10_000]
    )
    parser.add_argument("--only", choices=["runner", "cards", "queries"])
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql", "both", "auto"],
        default="auto",
        help="where the jobs are stored (auto: both when PostgreSQL is installed, else SQLite)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    databases, backends, note = Databases.start(args.database, work)
    if note:
        print(note)
    try:
        if args.only in (None, "runner"):
            run_runner(args, databases, backends)
        if args.only in (None, "cards"):
            for backend in backends:
                asyncio.run(run_cards(args, backend, databases.new(backend)))
        if args.only in (None, "queries"):
            for backend in backends:
                asyncio.run(run_queries(args, backend, databases))
    finally:
        databases.stop()


def run_runner(args: argparse.Namespace, databases: Databases, backends: list[str]) -> None:
    """One runner per backend, then two runners (shards 0 and 1 of 2) on one database."""
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(
        target=kling_stand_in, args=(send, args.task_seconds), daemon=True
    )
    server.start()
    try:
        base_url = f"http://127.0.0.1:{receive.recv()}"
        options = {"jobs": args.jobs, "base_url": base_url, "time_limit": args.time_limit}
        rows = []
        for backend in backends:
            (one,) = run_case(databases, backend, [(backend, ShardSet())], **options)
            rows.append((backend, one))
        shared = "postgresql" if "postgresql" in backends else backends[0]
        pair = run_case(
            databases,
            shared,
            [("shard 0", ShardSet(2, (0,))), ("shard 1", ShardSet(2, (1,)))],
            **options,
        )
        short = "pg" if shared == "postgresql" else shared
        rows += [(f"{short}: {f.label} of 2", f) for f in pair]
        report(rows, jobs=args.jobs, task_seconds=args.task_seconds)
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
