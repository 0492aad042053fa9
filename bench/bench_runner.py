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

The cases are in bench/runner_cases.py (with the Kling stand-in of bench/runner_kling.py),
bench/runner_cards.py and bench/runner_queries.py; this script runs them.

Run: .venv/bin/python bench/bench_runner.py [--jobs 1000] [--task-seconds 60] [--queued 20000]
     [--history 10,1000,10000] [--only runner|cards|queries] [--database sqlite|postgresql|both]
(default: both when PostgreSQL's initdb is installed, else SQLite with a note).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.databases import Databases  # noqa: E402
from bench.runner_cards import run_cards  # noqa: E402
from bench.runner_cases import report, run_case  # noqa: E402
from bench.runner_kling import kling_stand_in  # noqa: E402
from bench.runner_queries import run_queries  # noqa: E402
from bot.shards import ShardSet  # noqa: E402


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
