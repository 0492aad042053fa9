"""Scale: marks per second with one and with two real `kling-bot run` processes sharing one
PostgreSQL database (SPEC §11), and the bot's CPU time per mark.

Processes on loopback: this driver with the Discord stand-in (tests/discord_twin, recommending 2
shards) and the members; the Kling emulator (bench/load_children.py's, in its own process)
and, by default, in front of it the light Kling of bench/light_kling.py (its own process),
which answers marking's selection calls from masks encoded before the run, so Kling's
segmentation is off this machine as in production and the bot's CPU is what bounds the marks
(``--kling emulator``: the emulator segments every mark's frame on these cores); a
throwaway PostgreSQL cluster (bench/databases.py); and the bot: either ONE process holding both
shards (``shard_count = 2``, ``shard_ids = [0, 1]``) or TWO processes with shards 0 and 1 of 2,
one media folder shared. Half the servers are on each shard.

Each phase starts from a new, empty database: the bot processes start, one editing session is
opened per channel (not measured), then every member marks for --duration seconds: a new point
(unique in its channel, 3 per frame over 10 frames), waits for the answer, and marks
again once the per-member cooldown allows (one mark every 2 s, SPEC's selection cooldown), so the
members offer more marks than the bot can answer and the throughput is the bot's. A mark counts
when its answer says it was marked and arrived within the phase.

Reported per phase: marks answered per second; time to answer (p50, p90, worst); each bot
process's CPU seconds (all threads), its share of a core and its CPU time per mark; the CPU of the
driver, the emulator and PostgreSQL; how long the bot and the emulator waited for a CPU while
runnable (schedstat); the load average (/proc/loadavg) before and after. This machine has 2
cores shared with other work: the ratio of two processes to one follows the CPU left free (the
waits show when the machine, not the bot, was the bound), while CPU time per mark does not
depend on the load.

Run: python bench/bench_scale.py [--guilds 4] [--channels 16] [--members 2] [--duration 20]
     [--rounds 1] [--processes 1,2] [--size 1280x720] [--kling light];
     BENCH_KEEP=1 keeps the work folder (logs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.databases import Databases  # noqa: E402
from bench.load_children import EmulatorProcess, peak_rss_mib  # noqa: E402
from bench.load_report import (  # noqa: E402
    REPLY_WAIT,
    Fired,
    finish,
    percentile,
    reply_text,
    settled,
)
from bench.process_cpu import process_cpu  # noqa: E402
from bot.shards import shard_of  # noqa: E402
from tests.cogs.harness import make_video  # noqa: E402
from tests.discord_twin import DiscordTwin, TwinChannel  # noqa: E402
from tests.processes import ChildProcess, child_env, python_module  # noqa: E402

SHARDS = 2
MARK_SPACING_S = 2.05  # the selection cooldown allows one mark per member every 2 s
FRAMES = tuple(range(0, 60, 6))  # 10 frames of the 60-frame clip
# A few points per frame, as members mark an object or two: every selection call returns (and
# the bot decodes and draws) all the masks of the frame, so a frame's tenth point costs several
# times its first.
POINTS_PER_FRAME = 3
START_TIMEOUT_S = 90.0
WATCH_INTERVAL_S = 0.01  # how often pending marks are checked (their times come from the twin)


def waited_for_cpu(pid: int) -> float:
    """Seconds the live threads of ``pid`` spent runnable but waiting for a CPU (the second
    field of each thread's schedstat): large when the machine's load, not the process's own
    work, holds it back."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that ended
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


# bench_load's emulator process (bench/load_children.py) without its lower priority: on this
# shared machine a niced emulator waits behind everyone else's work, and the bot then waits for
# Kling's answers instead of being held back by its own CPU.
EMULATOR = (
    "import asyncio, sys; from pathlib import Path; from bench.load_children import "
    "serve_emulator; asyncio.run(serve_emulator(Path(sys.argv[1]), Path(sys.argv[2]), 0.5))"
)


async def start_emulator(work_dir: Path) -> EmulatorProcess:
    work_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (nothing else runs yet)
    ready = work_dir / "url.txt"
    args = [sys.executable, "-c", EMULATOR, str(work_dir), str(ready)]
    return await _serving(args, work_dir, ready, "the emulator")


async def start_light(
    work_dir: Path, upstream: str, points: list[tuple[float, float]], size: str
) -> EmulatorProcess:
    """bench/light_kling.py in its own process, its masks for ``points`` encoded first."""
    work_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (nothing else runs yet)
    ready, listed = work_dir / "url.txt", work_dir / "points.json"
    listed.write_text(json.dumps(points))
    args = python_module(
        "bench.light_kling", "--upstream", upstream, "--size", size, "--points", str(listed)
    )
    return await _serving([*args, "--ready", str(ready)], work_dir, ready, "the light Kling")


async def _serving(args: list[str], work_dir: Path, ready: Path, what: str) -> EmulatorProcess:
    proc = ChildProcess.start(args, cwd=REPO, env=child_env({}), log=work_dir / "server.log")
    deadline = time.monotonic() + 120
    # A file appears; there is no event to wait on across processes.
    while not ready.exists():  # noqa: ASYNC240
        if proc.returncode is not None or time.monotonic() > deadline:
            await proc.stop(kill=True)
            raise RuntimeError(f"{what} did not start:\n{proc.output()[-2000:]}")
        await asyncio.sleep(0.05)
    return EmulatorProcess(proc, ready.read_text().strip())  # noqa: ASYNC240


def machine_busy() -> tuple[float, float]:
    """CPU seconds the machine's cores have spent busy since boot (/proc/stat), whoever ran:
    the bench's processes and any other work sharing the machine; and the seconds the host of
    this virtual machine took from them (steal)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]  # user nice system irqs
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, fields[7] / tick


@dataclass
class Bot:
    name: str
    shard_ids: tuple[int, ...]
    proc: ChildProcess
    cpu0: float = 0.0
    cpu: float = 0.0
    wait0: float = 0.0
    waited: float = 0.0
    rss_mib: float = 0.0


@dataclass
class PhaseResult:
    processes: int
    bots: list[Bot]
    marks: list[Fired]
    wall: float
    driver_cpu: float
    emulator_cpu: float
    emulator_waited: float
    db_cpu: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    light_cpu: float = 0.0
    light_waited: float = 0.0
    # The CPU figures cover the whole marking, which ends when the last answer came (or timed
    # out), a little after the window that the marks/s count.
    elapsed: float = 1.0
    machine_cpu: float = 0.0
    steal: float = 0.0
    succeeded: list[Fired] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.succeeded) / self.wall


class World:
    """The stand-in with its servers and members, the emulator and the database cluster."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.twin: DiscordTwin
        self.emulator: EmulatorProcess
        self.light: EmulatorProcess | None = None
        self.plans: list[dict[int, list[tuple[int, tuple[float, float]]]]] = []
        self.databases: Databases
        self.members: list[tuple[Any, TwinChannel]] = []
        self.channels: list[TwinChannel] = []

    async def start(self) -> None:
        self.databases, _, _ = Databases.start("postgresql", self.work)
        self.twin = await DiscordTwin.start()
        self.twin.recommended_shards = SHARDS
        for g in range(self.args.guilds):
            names = [f"room-{c}" for c in range(self.args.channels)]
            guild = self.twin.add_guild(f"Server {g}", channels=names, shard=(g % SHARDS, SHARDS))
            for channel in guild.channels.values():
                self.channels.append(channel)
                for i in range(self.args.members):
                    actor = self.twin.member(guild, f"m{g}-{channel.name}-{i}")
                    self.members.append((actor, channel))
        self.emulator = await start_emulator(self.work / "emulator")
        # Every phase's points are drawn now, so the light Kling can encode their masks first.
        phases = self.args.rounds * len(self.args.processes.split(","))
        self.plans = [{c.id: self._slots() for c in self.channels} for _ in range(phases)]
        if self.args.kling == "light":
            points = sorted({p for plan in self.plans for s in plan.values() for _, p in s})
            self.light = await start_light(
                self.work / "light", self.emulator.base_url, points, self.args.size
            )

    async def stop(self) -> None:
        if self.light is not None:
            with contextlib.suppress(Exception):
                await self.light.proc.stop()
                print("  " + self.light.proc.output().strip().replace("\n", "\n  "))
        with contextlib.suppress(Exception):
            await self.emulator.stop()
        with contextlib.suppress(Exception):
            await self.twin.stop()
        self.databases.stop()

    # -- the bot processes -----------------------------------------------------------------

    async def start_bots(self, plan: Sequence[tuple[int, ...]], url: str, phase: str) -> list[Bot]:
        """One `kling-bot run` per entry of ``plan`` (its shard ids of 2); returns once every
        shard has identified on the stand-in."""
        kling_url = self.light.base_url if self.light else self.emulator.base_url
        await self.twin.wait_until(lambda: not self.twin.gateway.sessions(), 30)
        media = self.work / phase / "media"  # one folder for all the processes of the phase
        bots = []
        for ids in plan:
            name = "shards-" + "-".join(map(str, ids))
            folder = self.work / phase / name
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "config.toml"
            config.write_text(
                f'[discord]\napi_base = "{self.twin.api_base}"\nshard_count = {SHARDS}\n'
                f"shard_ids = {list(ids)}\n"
                f'[kling]\nprovider = "emulator"\nbase_url = "{kling_url}"\n'
                f'[storage]\npath = "{folder / "bot.sqlite3"}"\nmedia_dir = "{media}"\n'
                '[logging]\nlevel = "WARNING"\n'
            )
            proc = ChildProcess.start(
                python_module("bot.cli", "run", "--config", str(config)),
                cwd=REPO,
                env=child_env({"DISCORD_TOKEN": self.twin.token, "DATABASE_URL": url}),
                log=folder / "bot.log",
            )
            bots.append(Bot(name, ids, proc))
        try:
            await self.twin.wait_until(
                lambda: (
                    all(self.twin.gateway.sessions(i) for i in range(SHARDS))
                    or any(b.proc.returncode is not None for b in bots)
                ),
                START_TIMEOUT_S,
            )
        except BaseException:
            await self.stop_bots(bots, kill=True)
            raise
        exited = [b for b in bots if b.proc.returncode is not None]
        if exited:
            await self.stop_bots(bots, kill=True)
            tails = "\n".join(f"--- {b.name}:\n{b.proc.output()[-2000:]}" for b in exited)
            raise RuntimeError(f"kling-bot run exited:\n{tails}")
        return bots

    async def stop_bots(self, bots: list[Bot], *, kill: bool = False) -> None:
        await asyncio.gather(*(b.proc.stop(kill=kill, timeout=30) for b in bots))

    # -- members ---------------------------------------------------------------------------

    async def open_sessions(self, video: Path) -> None:
        first = {}
        for actor, channel in self.members:
            first.setdefault(channel.id, (actor, channel))

        async def one(actor: Any, channel: TwinChannel) -> None:
            handle = await actor.slash("kling edit", video=video, channel=channel)
            reply = await handle.response(timeout=180)
            if "editing session is open" not in reply.content:
                raise RuntimeError(f"no session in #{channel.name}: {reply.content}")

        await asyncio.gather(*(one(actor, channel) for actor, channel in first.values()))

    async def mark_for(self, duration: float, phase: int) -> tuple[list[Fired], float]:
        """Every member marks, waits for the answer, and marks again (cooldown allowing) until
        ``duration``; the marks, and the time the phase's window lasted."""
        loop = asyncio.get_running_loop()
        slots = {key: list(points) for key, points in self.plans[phase].items()}
        pending: dict[int, tuple[Fired, asyncio.Future[None]]] = {}
        fired: list[Fired] = []
        began = loop.time()
        until = began + duration

        async def member(actor: Any, channel: TwinChannel) -> None:
            await asyncio.sleep(self.rng.uniform(0, MARK_SPACING_S))  # arrivals spread out
            while loop.time() < until and slots[channel.id]:
                frame, (x, y) = slots[channel.id].pop()
                sent = loop.time()
                handle = await actor.slash(
                    "kling mark", points=f"{x},{y}", frame=frame, channel=channel, wait=False
                )
                item = Fired("mark", handle.record, channel.id, 0, ((x, y),))
                fired.append(item)
                answered = loop.create_future()
                pending[id(item)] = (item, answered)
                with contextlib.suppress(TimeoutError):  # reported as not answered
                    await asyncio.wait_for(answered, REPLY_WAIT)
                await asyncio.sleep(max(0.0, sent + MARK_SPACING_S - loop.time()))

        async def watch() -> None:
            # One watcher for every pending mark: hundreds of waiters each woken by every
            # change of the stand-in would cost the driver more than the bot's answers do.
            while True:
                await asyncio.sleep(WATCH_INTERVAL_S)
                for key, (item, answered) in list(pending.items()):
                    if settled(self.twin, item):
                        del pending[key]
                        if not answered.done():
                            answered.set_result(None)

        watcher = asyncio.create_task(watch())
        try:
            await asyncio.gather(*(member(actor, channel) for actor, channel in self.members))
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return fired, duration

    def _slots(self) -> list[tuple[int, tuple[float, float]]]:
        """The marks a channel's session can take: unique points, a few per frame."""
        points: list[tuple[int, tuple[float, float]]] = []
        for frame in FRAMES:
            seen: set[tuple[float, float]] = set()
            while len(seen) < POINTS_PER_FRAME:
                x, y = self.rng.uniform(0.05, 0.95), self.rng.uniform(0.05, 0.95)
                seen.add((round(x, 4), round(y, 4)))
            points += [(frame, p) for p in sorted(seen)]
        self.rng.shuffle(points)
        return points


async def run_phase(world: World, processes: int, video: Path, index: int) -> PhaseResult:
    plan = [tuple(range(SHARDS))] if processes == 1 else [(s,) for s in range(SHARDS)]
    url = world.databases.new("postgresql")
    phase = f"phase-{index}-{processes}"
    bots = await world.start_bots(plan, url, phase)
    try:
        began = time.monotonic()
        await world.open_sessions(video)
        print(
            f"  [{processes} process(es)] {len(world.channels)} sessions opened in "
            f"{time.monotonic() - began:.1f} s",
            flush=True,
        )
        load_before = os.getloadavg()
        for bot in bots:
            bot.cpu0, bot.wait0 = process_cpu(bot.proc.pid), waited_for_cpu(bot.proc.pid)
        emulator = world.emulator.proc.pid
        emulator0, emulator_wait0 = process_cpu(emulator), waited_for_cpu(emulator)
        db0, driver0 = world.databases.server_cpu(), time.process_time()
        busy0, started = machine_busy(), time.monotonic()
        light = world.light.proc.pid if world.light else None
        light0 = (process_cpu(light), waited_for_cpu(light)) if light else (0.0, 0.0)
        marks, wall = await world.mark_for(world.args.duration, index)
        for bot in bots:
            bot.cpu = process_cpu(bot.proc.pid) - bot.cpu0
            bot.waited = waited_for_cpu(bot.proc.pid) - bot.wait0
            bot.rss_mib = peak_rss_mib(bot.proc.pid)
        result = PhaseResult(
            processes=processes,
            bots=bots,
            marks=marks,
            wall=wall,
            driver_cpu=time.process_time() - driver0,
            emulator_cpu=process_cpu(emulator) - emulator0,
            emulator_waited=waited_for_cpu(emulator) - emulator_wait0,
            light_cpu=process_cpu(light) - light0[0] if light else 0.0,
            light_waited=waited_for_cpu(light) - light0[1] if light else 0.0,
            db_cpu=world.databases.server_cpu() - db0,
            load_before=load_before,
            load_after=os.getloadavg(),
            elapsed=time.monotonic() - started,
            machine_cpu=machine_busy()[0] - busy0[0],
            steal=machine_busy()[1] - busy0[1],
        )
    finally:
        await world.stop_bots(bots)
    window_end = min(m.created_at for m in marks) + wall if marks else 0.0
    for item in marks:
        finish(world.twin, item)
        if item.outcome == "refused":
            result.refusals[reply_text(world.twin, item.record)[:60]] += 1
        if item.succeeded and item.done_at is not None and item.done_at <= window_end:
            result.succeeded.append(item)
    return result


def _loads(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def report(
    args: argparse.Namespace, results: list[PhaseResult], members: int, guild_of: dict[int, int]
) -> None:
    offered = members / MARK_SPACING_S
    print(
        f"\nscale: {args.guilds} servers (half on each shard of {SHARDS}) x {args.channels} "
        f"channels x {args.members} members = {members} members marking for {args.duration:g} s "
        f"(offered at most {offered:.0f} marks/s) on a {args.size} clip; Kling answers at once; "
        "PostgreSQL"
    )
    if args.kling == "light":
        print(
            "  Kling: the light stand-in (bench/light_kling.py) answers add-/delete-/clear-"
            "selection with a disc mask per point (COCO RLE + PNG at the clip's size, encoded "
            "before the run), every mask of the frame in each answer as Kling does; it replaces "
            "only Kling's side: the bot still decodes every mask, draws its boards and stores its "
            "points; sessions open through the emulator"
        )
    else:
        print("  Kling: the emulator, segmenting every mark's frame on this machine")
    for r in results:
        times = [m.done_at - m.created_at for m in r.succeeded if m.done_at is not None]
        refused = sum(1 for m in r.marks if m.outcome == "refused")
        errors = sum(1 for m in r.marks if m.outcome.startswith("error"))
        bot_cpu = sum(b.cpu for b in r.bots)
        done = max(1, len(r.succeeded))
        print(
            f"  {r.processes} process{'es' if r.processes > 1 else ''}: {r.rate:.1f} marks/s "
            f"({len(r.succeeded)} answered in {r.wall:.0f} s; {refused} refused, {errors} errors)"
        )
        if r.refusals:
            print(f"    refusals: {dict(r.refusals.most_common(3))}")
        if times:
            print(
                f"    time to answer p50 {percentile(times, 0.5) * 1000:.0f} ms, "
                f"p90 {percentile(times, 0.9) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms"
            )
        for bot in r.bots:
            own = [
                m for m in r.succeeded if shard_of(guild_of[m.channel_id], SHARDS) in bot.shard_ids
            ]
            print(
                f"    bot {bot.name}: {bot.cpu:.1f} s CPU ({bot.cpu / r.elapsed * 100:.0f}% of a "
                f"core; waited {bot.waited:.1f} s for a CPU), {len(own)} marks, "
                f"{bot.cpu / max(1, len(own)) * 1000:.1f} ms CPU per mark, peak RSS "
                f"{bot.rss_mib:.0f} MiB"
            )
        print(
            f"    bot CPU per mark, all processes: {bot_cpu / done * 1000:.1f} ms; driver "
            f"{r.driver_cpu:.1f} s, emulator {r.emulator_cpu:.1f} s (waited "
            f"{r.emulator_waited:.1f} s for a CPU), PostgreSQL {r.db_cpu:.1f} s CPU; load average "
            f"{_loads(r.load_before)} -> {_loads(r.load_after)}"
        )
        if args.kling == "light":
            print(
                f"    light Kling {r.light_cpu:.1f} s CPU (waited {r.light_waited:.1f} s for a CPU)"
            )
        kling = r.emulator_cpu + r.light_cpu
        print(
            "    CPU per mark: bot "
            f"{bot_cpu / done * 1000:.1f} ms, Kling {kling / done * 1000:.1f} ms, driver "
            f"(stand-in and members) {r.driver_cpu / done * 1000:.1f} ms, PostgreSQL "
            f"{r.db_cpu / done * 1000:.1f} ms"
        )
        # Everything of the bench shares this machine's cores: Kling's work (the emulator) too,
        # which in production runs on Kling's machines.
        everything = bot_cpu + kling + r.driver_cpu + r.db_cpu
        # Busy time of the whole machine not spent by the bench: other work on these cores.
        others = max(0.0, r.machine_cpu - everything)
        print(
            f"    machine over the {r.elapsed:.0f} s of marking: "
            f"{r.machine_cpu / r.elapsed:.2f} of "
            f"{os.cpu_count()} cores busy, of which the bench {everything / r.elapsed:.2f} (bots "
            f"{bot_cpu / r.elapsed:.2f}) and other work {others / r.elapsed:.2f}; taken by the "
            f"host (steal) {r.steal / r.elapsed:.2f}"
        )
        cores = os.cpu_count() or 1
        print(
            f"    CPU per mark of everything here: {everything / done * 1000:.0f} ms, so at most "
            f"{cores * done / everything:.1f} marks/s on {cores} cores; the bot's part alone: "
            f"at most {done / bot_cpu * min(cores, r.processes):.1f} marks/s for "
            f"{r.processes} process{'es' if r.processes > 1 else ''} (one core each)"
        )
    ones = [r.rate for r in results if r.processes == 1]
    twos = [r.rate for r in results if r.processes == 2]
    if ones and twos:
        # Per round (the two cases run back to back, so at about the same load) and overall.
        ratios = [two / one for one, two in zip(ones, twos, strict=False) if one]
        each = ", ".join(f"{x:.2f}x" for x in ratios)
        print(
            f"  two processes / one: {statistics.median(twos) / statistics.median(ones):.2f}x "
            f"(medians; per round {each}; goal >= 1.7x)"
        )


async def main_async(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    world = World(args, work)
    await world.start()
    results: list[PhaseResult] = []
    try:
        width, height = (int(v) for v in args.size.split("x"))
        video = make_video(work / "clip.mp4", width=width, height=height)
        counts = [int(n) for n in args.processes.split(",")]
        for _ in range(args.rounds):
            for processes in counts:
                results.append(await run_phase(world, processes, video, len(results)))
    finally:
        await world.stop()
        # The emulator keeps every session's frames: gigabytes after a few phases.
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    guild_of = {channel.id: channel.guild_id for channel in world.channels}
    report(args, results, len(world.members), guild_of)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=4, help="servers, half on each shard")
    parser.add_argument("--channels", type=int, default=16, help="channels per server")
    parser.add_argument("--members", type=int, default=2, help="members per channel")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of marking")
    parser.add_argument("--rounds", type=int, default=1, help="times each case is run")
    parser.add_argument("--processes", default="1,2", help="cases, in order: 1, 2 or 1,2")
    parser.add_argument(
        "--size",
        default="1280x720",
        help="the clip's WIDTHxHEIGHT, each side 720-2160 px as Kling requires (60 frames)",
    )
    parser.add_argument(
        "--kling",
        choices=("light", "emulator"),
        default="light",
        help="light: bench/light_kling.py answers marking's selection calls from masks encoded "
        "before the run (Kling's work off this machine, as in production); emulator: the Kling "
        "emulator segments every frame itself, on the same 2 cores as the bot",
    )
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
