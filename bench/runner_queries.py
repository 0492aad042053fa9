"""bench_runner.py's quota queries as a server's history grows (``--history``):
``count_active_jobs``, ``recent_jobs`` and the quota check inside ``create_job``, each timed as
the median of 200 calls on a new database holding that many jobs per server (four servers, all
finished over the last 30 days but the newest few).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench.databases import Databases
from bot.storage import JobKind, JobLimits, NewJob, Store


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
