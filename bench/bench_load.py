"""Load: many members in many channels acting on the real bot (`kling-bot run`).

Three processes on loopback (bench/load_children.py): this driver with the Discord stand-in
(tests/discord_twin) and the members, the bot (`kling-bot run`; the RSS and CPU reported are that
process's alone), and the Kling emulator (its own process at a lower priority: Kling's work runs
on Kling's machines, not the bot's). One editing session is opened per channel first (not
measured); then the emulator answers every selection call after 1-3 s, and members act:
`/kling status`, `/kling mark` (unique points), `/kling undo`, `/kling frame`, a board button
(`▶ +1` / `◀ -1`) or `/kling preview`, each kind equally likely.

Two phases, each reported on its own:
- PACED (the main figure): members act at human pace. Each member starts at a random moment
  within the first think time, waits for the answer to what they did, thinks (an exponential
  time, mean --think seconds, kept within 2-60 s) and acts again, for --duration seconds. The
  arrival rate that results is printed.
- BURST (a stress figure): every member acts at the same instant, --rounds times (each round
  once the previous one is answered). Answers then queue for the CPU: with 200 at once, the
  last one waits for the other 199 whatever the bot does, so this bounds throughput, not what a
  member feels.

TIME TO ANSWER is what a member waits for: from the stand-in's dispatch of INTERACTION_CREATE to
the last followup or message edit the bot sent through that interaction (the answer, not the
acknowledgement; for a board button, its edit of the board). It is split (bench/load_split.py)
into Kling's own time on the critical path (the emulator's record of each selection call),
waiting behind the same session's earlier Kling calls, and the bot's own time (the rest).
Time to acknowledge is measured too. Errors: an interaction not acknowledged within 3 s, not
answered within 90 s, a reply that reports an unexpected error, any Discord rule the stand-in saw
broken, or two Kling calls of one session in progress at once.

Run: python bench/bench_load.py [--phases paced,burst] [--guilds 4] [--channels 10]
[--members 5] [--duration 60] [--think 10] [--rounds 3] [--database sqlite|postgresql]
(default: 200 members in 40 channels, SQLite).
BENCH_PYSPY=stacks.txt samples the bot with py-spy (collapsed stacks); BENCH_PROFILE=out.prof
runs it under cProfile; BENCH_TRACEMALLOC=report.txt writes the biggest Python allocations at
the bot's high (bench/traced_bot.py).
BENCH_KEEP=1 keeps the run's folder (the bot's log among its files).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.databases import Databases  # noqa: E402
from bench.load_children import (  # noqa: E402
    EmulatorProcess,
    Sampler,
    cpu_seconds,
    peak_rss_mib,
    reset_peak,
)
from bench.load_report import KINDS, REPLY_WAIT, Fired, Phase, report, settled  # noqa: E402
from bench.load_split import SELECTION_ENDPOINTS  # noqa: E402
from bench.work_folder import work_folder  # noqa: E402
from bot.storage import Store  # noqa: E402
from tests.cogs.delivery_support import start_bot_process, write_run_config  # noqa: E402
from tests.cogs.harness import is_board, make_video  # noqa: E402
from tests.discord_twin import DiscordTwin, TwinChannel, TwinMessage  # noqa: E402
from tests.discord_twin.model import walk_components  # noqa: E402
from tests.processes import ChildProcess  # noqa: E402

THINK_MIN, THINK_MAX = 2.0, 60.0


async def start_bot(folder: Path, twin: DiscordTwin, emulator: Any) -> ChildProcess:
    config = write_run_config(folder, twin, emulator.base_url, log_level="WARNING")
    # BENCH_PROFILE=out.prof: run the bot under cProfile (written when it stops).
    profile = (
        ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
        if os.environ.get("BENCH_PROFILE")
        else []
    )
    # BENCH_TRACEMALLOC=report.txt: what Python memory the bot holds at its high (traced_bot).
    module = "bench.traced_bot" if os.environ.get("BENCH_TRACEMALLOC") else "bot.cli"
    return await start_bot_process(config, twin, python_options=profile, module=module)


def board_in(channel: TwinChannel) -> TwinMessage | None:
    boards = [m for m in channel.visible_messages() if is_board(m)]
    return max(boards, key=lambda m: m.id) if boards else None


async def kling_sessions_in(url: str) -> dict[int, str]:
    """:func:`kling_sessions` of a bot storing its data in PostgreSQL (``--database``)."""
    store = await Store.open(url)
    try:
        rows = await store._fetchall(
            "SELECT channel_id, kling_session_id FROM sessions WHERE status = 'active'"
        )
    finally:
        await store.close()
    return {int(r["channel_id"]): str(r["kling_session_id"]) for r in rows if r["kling_session_id"]}


def kling_sessions(database: Path) -> dict[int, str]:
    """channel id -> the Kling session of its editing session (read from the bot's database)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT channel_id, kling_session_id FROM sessions WHERE status = 'active'"
        ).fetchall()
    return {int(channel): str(kling) for channel, kling in rows if kling}


async def open_sessions(
    actors: dict[int, list[Any]], channels: list[TwinChannel], video: Path
) -> None:
    async def one(channel: TwinChannel) -> None:
        handle = await actors[channel.id][0].slash("kling edit", video=video, channel=channel)
        reply = await handle.response(timeout=120)
        if "editing session is open" not in reply.content:
            raise RuntimeError(f"no session in #{channel.name}: {reply.content}")

    await asyncio.gather(*(one(c) for c in channels))


def unique_point(rng: random.Random, used: set[tuple[float, float]]) -> tuple[float, float]:
    while True:
        point = (round(rng.uniform(0.05, 0.95), 4), round(rng.uniform(0.05, 0.95), 4))
        if point not in used:
            used.add(point)
            return point


async def fire(
    actor: Any, channel: TwinChannel, kind: str, rng: random.Random, used: set[tuple[float, float]]
) -> Fired:
    """Dispatch one interaction of ``kind`` (without waiting for its answer)."""
    board = board_in(channel)
    edits = board.edit_count if board else 0
    points: tuple[tuple[float, float], ...] = ()
    if kind == "status":
        handle = await actor.slash("kling status", channel=channel, wait=False)
    elif kind == "mark":
        x, y = unique_point(rng, used)
        points = ((x, y),)
        handle = await actor.slash(
            "kling mark",
            points=f"{x},{y}",
            frame=rng.choice((0, 20, 40)),
            channel=channel,
            wait=False,
        )
    elif kind in ("undo", "preview"):
        handle = await actor.slash(f"kling {kind}", channel=channel, wait=False)
    elif kind == "frame":
        handle = await actor.slash(
            "kling frame", frame=rng.randint(0, 59), channel=channel, wait=False
        )
    else:
        if board is None:
            raise RuntimeError(f"no board in #{channel.name}")
        labels = {
            c.get("label")
            for c in walk_components(board.components)
            if c.get("type") == 2 and not c.get("disabled")
        }
        label = "▶ +1" if "▶ +1" in labels else "◀ -1"
        handle = await actor.click(board, label, wait=False)
    return Fired(kind, handle.record, channel.id, edits, points)


async def burst_round(
    twin: DiscordTwin,
    members: list[tuple[Any, TwinChannel]],
    rng: random.Random,
    kinds: list[str],
    used: set[tuple[float, float]],
) -> list[Fired]:
    """One interaction per member, all dispatched at once; returns when all are answered."""
    plan = [(actor, channel, rng.choice(kinds)) for actor, channel in members]
    rng.shuffle(plan)
    fired = [await fire(actor, channel, kind, rng, used) for actor, channel, kind in plan]

    def all_settled() -> bool:
        return all([settled(twin, item) for item in fired])  # every item: notes board edits

    with contextlib.suppress(TimeoutError):  # what is still unanswered is reported
        await twin.wait_until(all_settled, REPLY_WAIT)
    return fired


async def paced(
    twin: DiscordTwin,
    members: list[tuple[Any, TwinChannel]],
    rng: random.Random,
    kinds: list[str],
    used: set[tuple[float, float]],
    duration: float,
    think: float,
) -> list[Fired]:
    """Every member acts, waits for the answer, thinks, and acts again until ``duration``."""
    loop = asyncio.get_running_loop()
    until = loop.time() + duration
    fired: list[Fired] = []

    def think_time() -> float:
        return min(max(rng.expovariate(1 / think), THINK_MIN), THINK_MAX)

    async def member(actor: Any, channel: TwinChannel) -> None:
        await asyncio.sleep(rng.uniform(0, think))  # arrivals spread from the start
        while loop.time() < until:
            item = await fire(actor, channel, rng.choice(kinds), rng, used)
            fired.append(item)
            with contextlib.suppress(TimeoutError):  # reported as unanswered
                await twin.wait_until(lambda item=item: settled(twin, item), REPLY_WAIT)
            await asyncio.sleep(think_time())

    await asyncio.gather(*(member(actor, channel) for actor, channel in members))
    return fired


async def measure(
    name: str, load: str, pid: int, run: Callable[[], Awaitable[list[Fired]]]
) -> Phase:
    reset_peak(pid)
    before = os.getloadavg()
    began, bot_cpu, own_cpu = time.monotonic(), cpu_seconds(pid), time.process_time()
    results = await run()
    return Phase(
        name=name,
        load=load,
        results=results,
        wall=time.monotonic() - began,
        bot_cpu=cpu_seconds(pid) - bot_cpu,
        driver_cpu=time.process_time() - own_cpu,
        rss=peak_rss_mib(pid),
        loadavg_before=before,
        loadavg_after=os.getloadavg(),
    )


async def main_async(args: argparse.Namespace) -> None:
    with work_folder("bench-load-") as work:
        await run_bench(args, work)


async def run_bench(args: argparse.Namespace, work: Path) -> None:
    rng = random.Random(args.seed)
    # --database postgresql: a throwaway cluster; the bot's process takes DATABASE_URL from here.
    databases = Databases.start("postgresql", work)[0] if args.database == "postgresql" else None
    if databases is not None:
        os.environ["DATABASE_URL"] = databases.new("postgresql")
    twin = await DiscordTwin.start()
    channels: list[TwinChannel] = []
    actors: dict[int, list[Any]] = {}
    for g in range(args.guilds):
        guild = twin.add_guild(f"Server {g}", channels=[f"room-{c}" for c in range(args.channels)])
        for channel in guild.channels.values():
            channels.append(channel)
            actors[channel.id] = [
                twin.member(guild, f"m{g}-{channel.name}-{i}") for i in range(args.members)
            ]
    members = [(actor, channel) for channel in channels for actor in actors[channel.id]]
    video = make_video(work / "clip.mp4")
    used: set[tuple[float, float]] = set()
    kinds = args.kinds.split(",")
    phases: list[Phase] = []
    emulator = await EmulatorProcess.start(work / "emulator", seconds_per_stage=0.5)
    try:
        proc = await start_bot(work, twin, emulator)
        sampler = (
            Sampler(proc.pid, Path(os.environ["BENCH_PYSPY"]), work / "py-spy.log")
            if os.environ.get("BENCH_PYSPY")
            else None
        )
        try:
            began = time.monotonic()
            await open_sessions(actors, channels, video)
            print(
                f"setup on {args.database}: {len(channels)} sessions opened in "
                f"{time.monotonic() - began:.1f} s; "
                f"bot peak RSS so far {peak_rss_mib(proc.pid):.0f} MiB"
            )
            sessions = (
                await kling_sessions_in(os.environ["DATABASE_URL"])
                if databases is not None
                else kling_sessions(work / "data" / "bot.sqlite3")
            )
            for endpoint in SELECTION_ENDPOINTS:
                await emulator.latency(endpoint, 1.0, 3.0)
            who = f"{len(channels)} channels x {args.members} members = {len(members)} members"
            for name in args.phases.split(","):
                if name == "paced":
                    phases.append(
                        await measure(
                            "PACED (main figure)",
                            f"{who}, each acting, waiting for the answer, then thinking "
                            f"{THINK_MIN:g}-{THINK_MAX:g} s (exponential, mean {args.think:g} s) "
                            f"for {args.duration:g} s; first actions spread over {args.think:g} s;"
                            f" Kling selection latency 1-3 s",
                            proc.pid,
                            lambda: paced(
                                twin, members, rng, kinds, used, args.duration, args.think
                            ),
                        )
                    )
                elif name == "burst":

                    async def rounds() -> list[Fired]:
                        fired: list[Fired] = []
                        for _ in range(args.rounds):
                            fired += await burst_round(twin, members, rng, kinds, used)
                        return fired

                    phases.append(
                        await measure(
                            "BURST (stress figure)",
                            f"{who}, all acting at the same instant, {args.rounds} rounds "
                            f"(each once the previous is answered); Kling selection latency 1-3 s",
                            proc.pid,
                            rounds,
                        )
                    )
                else:
                    raise SystemExit(f"unknown phase {name!r}: paced or burst")
        finally:
            if sampler is not None:
                await sampler.stop()
            await proc.stop(timeout=30)
        try:
            records = await emulator.records()
        except aiohttp.ClientError as error:  # the emulator is gone: report without its records
            print(f"the emulator's call records are lost ({error}): no Kling/waiting split")
            records = []
    finally:
        await emulator.stop()
        if databases is not None:
            databases.stop()
    for phase in phases:
        report(twin, phase, records, sessions)
    await twin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default="paced,burst", help="paced, burst or both, in order")
    parser.add_argument("--guilds", type=int, default=4)
    parser.add_argument("--channels", type=int, default=10, help="channels per server")
    parser.add_argument("--members", type=int, default=5, help="members per channel")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of paced acting")
    parser.add_argument("--think", type=float, default=10.0, help="mean think time, seconds")
    parser.add_argument("--rounds", type=int, default=3, help="burst rounds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="where the bot stores its data (postgresql: a throwaway cluster, bench/databases.py)",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"comma-separated interaction kinds (default: {','.join(KINDS)})",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
