"""One measured phase of bench_scale.py and the report of the run.

A phase starts the bot processes on a new, empty database, opens the sessions (not measured),
then reads every process's CPU time (all threads), its wait for a CPU while runnable (schedstat)
and the machine's busy time (/proc/stat) before and after the members mark; the marks that
succeeded within the phase's window count. The report prints, per phase, the marks per second,
the time to answer and where the CPU went, then the ratio of two processes to one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.load_children import peak_rss_mib
from bench.load_report import Fired, finish, format_loads, percentile, reply_text
from bench.process_cpu import process_cpu
from bench.scale_world import MARK_SPACING_S, SHARDS, Bot, World
from bot.shards import shard_of


def waited_for_cpu(pid: int) -> float:
    """Seconds the live threads of ``pid`` spent runnable but waiting for a CPU (the second
    field of each thread's schedstat): large when the machine's load, not the process's own
    work, holds it back."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that ended
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def machine_busy() -> tuple[float, float]:
    """CPU seconds the machine's cores have spent busy since boot (/proc/stat), whoever ran:
    the bench's processes and any other work sharing the machine; and the seconds the host of
    this virtual machine took from them (steal)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]  # user nice system irqs
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, fields[7] / tick


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
            f"{format_loads(r.load_before)} -> {format_loads(r.load_after)}"
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
