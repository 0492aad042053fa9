"""The processes and the members of bench_scale.py: the Discord stand-in with its servers and
members (in the driver), the Kling emulator and the light Kling (each in a process of its own),
the throwaway PostgreSQL cluster, and the `kling-bot run` processes of a phase (one holding both
shards, or one per shard).

The members' marks are planned before anything runs (unique points, a few per frame, per
channel and phase), so the light Kling can encode their masks first; during a phase every member
marks, waits for the answer and marks again once the selection cooldown allows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.databases import Databases
from bench.load_children import EmulatorProcess
from bench.load_report import REPLY_WAIT, Fired, settled
from tests.cogs.delivery_support import write_run_config
from tests.discord_twin import DiscordTwin, TwinChannel
from tests.processes import ChildProcess, child_env, python_module

REPO = Path(__file__).resolve().parents[1]

SHARDS = 2
MARK_SPACING_S = 2.05  # the selection cooldown allows one mark per member every 2 s
FRAMES = tuple(range(0, 60, 6))  # 10 frames of the 60-frame clip
# A few points per frame, as members mark an object or two: every selection call returns (and
# the bot decodes and draws) all the masks of the frame, so a frame's tenth point costs several
# times its first.
POINTS_PER_FRAME = 3
START_TIMEOUT_S = 90.0
WATCH_INTERVAL_S = 0.01  # how often pending marks are checked (their times come from the twin)


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
            config = write_run_config(
                folder,
                self.twin,
                kling_url,
                discord=f"shard_count = {SHARDS}\nshard_ids = {list(ids)}",
                data_dir=folder,
                media_dir=media,
                log_level="WARNING",
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
