"""bench_runner.py's in-flight cases: one runner per backend, and two runners on one database.

Each runner runs in a process of its own (``multiprocessing`` spawn), as the bot does, so the CPU
time, peak memory and jobs in flight reported are that runner's alone. The jobs are stored first
by the parent, spread over servers on both shards of 2 (``(guild_id >> 22) % 2``); then every
runner of the case starts at once. A runner given shard 0 (or 1) of 2 runs the jobs of its
shard's servers and claims each in the database (bot/jobs/ownership.py); one given no shards runs
them all. The Kling stand-in counts requests per job (by ``external_task_id``), so each runner's
requests per job are those about its own jobs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bench.databases import Databases
from bot.jobs import JobRunner, KlingTaskBackend, RunnerConfig, animate_request
from bot.kling import KlingClient, make_provider
from bot.shards import ShardSet
from bot.storage import Job, JobKind, NewJob, Store

SERVERS = 8  # the jobs' servers: four on each shard of 2
SHARDS = 2


@dataclass
class RunnerFigures:
    """What one runner process saw and used."""

    label: str
    jobs: int  # jobs of its shards
    delivered: int
    foreign: int  # deliveries of jobs not on its shards (must be 0)
    peak_in_flight: int
    wall: float
    cpu: float
    rss_mib: float
    wakeups: int
    kling: Counter[str] = field(default_factory=Counter)  # create/get/download about its jobs
    db_cpu: float = 0.0  # the PostgreSQL server's CPU over the whole case
    case_jobs: int = 0  # the jobs of the whole case (all its runners)

    @property
    def kling_per_job(self) -> float:
        return (self.kling["create"] + self.kling["get"]) / max(1, self.jobs)


class CountingDeliverer:
    def __init__(self, shards: ShardSet, expected: int) -> None:
        self.shards = shards
        self.expected = expected
        self.posted = 0
        self.foreign = 0
        self.done = asyncio.Event()

    async def deliver(self, job: Job, video: Path | None) -> int:
        self.posted += 1
        if not self.shards.owns(job.guild_id):
            self.foreign += 1
        if self.posted >= self.expected:
            self.done.set()
        return self.posted

    async def find_delivery(self, job: Job) -> int | None:
        return None


def server_ids() -> list[int]:
    """Server ids spread over both shards of 2 (shard = (id >> 22) % 2)."""
    return [(index + 1) << 22 | 7 for index in range(SERVERS)]


async def seed_jobs(target: str, jobs: int, work: Path) -> dict[str, int]:
    """``jobs`` queued animate jobs over the servers, stored as the submit flow stores them;
    job id -> server id."""
    images = []
    for index in range(2):
        path = work / f"ref{index}.png"
        if not path.exists():
            Image.new("RGB", (400, 400), (40 * index, 90, 160)).save(path)
        images.append(path)
    servers = server_ids()
    store = await Store.open(target)
    placed: dict[str, int] = {}
    try:
        for index in range(jobs):
            guild = servers[index % len(servers)]
            job = await store.create_job(
                NewJob(
                    kind=JobKind.ANIMATE,
                    guild_id=guild,
                    channel_id=guild + 1,
                    requester_id=3,
                    request=animate_request(prompt="a slow pan", image_paths=images),
                )
            )
            placed[job.id] = guild
    finally:
        await store.close()
    return placed


def runner_process(
    out: Connection,
    target: str,
    shards: tuple[int | None, tuple[int, ...] | None],
    base_url: str,
    expected: int,
    time_limit: float,
    media: str,
) -> None:
    """One runner until it has delivered ``expected`` jobs (or ``time_limit``); its figures
    go to ``out``. Runs in a child process."""
    figures = _run_one(target, ShardSet(*shards), base_url, expected, time_limit, media)
    out.send(asyncio.run(figures))


async def _run_one(
    target: str, shards: ShardSet, base_url: str, expected: int, time_limit: float, media: str
) -> dict[str, Any]:
    store = await Store.open(target)
    deliverer = CountingDeliverer(shards, expected)
    async with aiohttp.ClientSession() as http:
        client = KlingClient(http, make_provider("emulator", base_url=base_url))
        runner = JobRunner(
            store,
            KlingTaskBackend(client),
            deliverer,
            media_dir=Path(media),
            http=http,
            config=RunnerConfig(),
            shards=shards,
        )
        usage0, began = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        await runner.start()
        peak = 0
        deadline = began + time_limit
        while not deliverer.done.is_set() and time.monotonic() < deadline:
            peak = max(peak, runner.in_flight)
            await asyncio.sleep(0.5)
        wall = time.monotonic() - began
        usage = resource.getrusage(resource.RUSAGE_SELF)
        await runner.stop()
    await store.close()
    cpu = usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime
    return {
        "delivered": deliverer.posted,
        "foreign": deliverer.foreign,
        "peak_in_flight": peak,
        "wall": wall,
        "cpu": cpu,
        "rss_mib": usage.ru_maxrss / 1024,
        "wakeups": runner.stats.wakeups,
    }


async def kling_counts(base_url: str) -> dict[str, Counter[str]]:
    """The stand-in's requests so far, per job id."""
    async with aiohttp.ClientSession() as http, http.get(base_url + "/stats") as response:
        body = await response.json()
    return {job: Counter(calls) for job, calls in body["per_job"].items()}


def run_case(
    databases: Databases,
    backend: str,
    runners: list[tuple[str, ShardSet]],
    *,
    jobs: int,
    base_url: str,
    time_limit: float,
) -> list[RunnerFigures]:
    """Store ``jobs`` jobs in a new database of ``backend``, run the runners at once (one
    process each), and return each one's figures."""
    target = databases.new(backend)
    work = databases.work
    placed = asyncio.run(seed_jobs(target, jobs, work))
    spawn = multiprocessing.get_context("spawn")
    started = []
    # The PostgreSQL server's CPU while the runners ran (with SQLite that work is in the runner).
    server_cpu = databases.server_cpu if backend == "postgresql" else lambda: 0.0
    db_cpu0 = server_cpu()
    for label, shards in runners:
        mine = [job for job, guild in placed.items() if shards.owns(guild)]
        receive, send = spawn.Pipe(duplex=False)
        process = spawn.Process(
            target=runner_process,
            args=(send, target, (shards.count, shards.ids), base_url, len(mine), time_limit,
                  str(work / "media")),
            name=f"runner-{label}",
        )  # fmt: skip
        process.start()
        started.append((label, mine, receive, process))
    figures = []
    try:
        for label, mine, receive, _process in started:
            got = receive.recv()
            figures.append(RunnerFigures(label=label, jobs=len(mine), **got))
    finally:
        for *_, process in started:
            process.join(30)
            if process.is_alive():
                process.kill()
    db_cpu = server_cpu() - db_cpu0
    counts = asyncio.run(kling_counts(base_url))
    for (_label, mine, *_), figure in zip(started, figures, strict=True):
        for job in mine:
            figure.kling.update(counts.get(job, Counter()))
        figure.db_cpu, figure.case_jobs = db_cpu, len(placed)
    return figures


def report(rows: list[tuple[str, RunnerFigures]], *, jobs: int, task_seconds: float) -> None:
    """The runners' figures side by side, one column each."""
    print(
        f"\njob runner: {jobs} jobs queued at once over {SERVERS} servers (half on each shard of "
        f"{SHARDS}), each finishing {task_seconds:g} s after Kling accepts it"
    )
    lines: list[tuple[str, list[str]]] = [
        ("jobs it runs", [f"{f.jobs}" for _, f in rows]),
        ("delivered (other shards')", [f"{f.delivered} ({f.foreign})" for _, f in rows]),
        ("peak jobs in flight", [f"{f.peak_in_flight}" for _, f in rows]),
        ("Kling requests per job", [f"{f.kling_per_job:.2f}" for _, f in rows]),
        ("  create / get / download", [_calls(f) for _, f in rows]),
        ("runner CPU per job (ms)", [f"{f.cpu / max(1, f.jobs) * 1000:.2f}" for _, f in rows]),
        ("PostgreSQL server CPU per job (ms)", [_db_cpu(f) for _, f in rows]),
        ("runner CPU (s) / wall (s)", [f"{f.cpu:.1f} / {f.wall:.0f}" for _, f in rows]),
        ("peak RSS (MiB)", [f"{f.rss_mib:.0f}" for _, f in rows]),
        ("scheduler wake-ups", [f"{f.wakeups}" for _, f in rows]),
    ]
    heads = [name for name, _ in rows]
    width = max(14, *(len(h) for h in heads))
    print(f"  {'':36}" + "".join(f"{h:>{width + 2}}" for h in heads))
    for name, cells in lines:
        print(f"  {name:36}" + "".join(f"{c:>{width + 2}}" for c in cells))
    worst = max(f.kling_per_job for _, f in rows)
    wrong = sum(f.foreign for _, f in rows) + sum(f.jobs - f.delivered for _, f in rows)
    print(
        f"  Kling requests per job, worst runner: {worst:.2f} (goal <= 6); jobs delivered by "
        f"a runner not holding their shard, or not delivered: {wrong}"
    )


def _calls(figures: RunnerFigures) -> str:
    k = figures.kling
    return f"{k['create']}/{k['get']}/{k['download']}"


def _db_cpu(figures: RunnerFigures) -> str:
    # The server's CPU over the case, per job of the case (with two runners: both together).
    if not figures.db_cpu:
        return "-"
    return f"{figures.db_cpu / max(1, figures.case_jobs) * 1000:.2f}"
