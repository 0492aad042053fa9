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

The processes and the members are in bench/scale_world.py, a phase's measurement and the report
in bench/scale_phase.py; this script runs the phases.

Run: python bench/bench_scale.py [--guilds 4] [--channels 16] [--members 2] [--duration 20]
     [--rounds 1] [--processes 1,2] [--size 1280x720] [--kling light];
     BENCH_KEEP=1 keeps the work folder (logs).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.scale_phase import PhaseResult, report, run_phase  # noqa: E402
from bench.scale_world import World  # noqa: E402
from bench.work_folder import work_folder  # noqa: E402
from tests.cogs.harness import make_video  # noqa: E402


async def main_async(args: argparse.Namespace, work: Path) -> None:
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
    args = parser.parse_args()
    with work_folder("bench-scale-") as work:
        asyncio.run(main_async(args, work))


if __name__ == "__main__":
    main()
