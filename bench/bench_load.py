"""Load: many members in many channels acting at once on the real bot (`kling-bot run`).

Everything runs on loopback: the Discord stand-in (tests/discord_twin) and the Kling emulator in
this process, the bot as a subprocess (so its event loop is not shared with the driver). One
editing session is opened per channel first (not measured); then the emulator answers every
selection call after 1-3 s, and each round fires one interaction per member at the same moment:
`/kling status`, `/kling mark` on the open session, a board button (`▶ +1` / `◀ -1`) or
`/kling frame`. Time to acknowledge is measured on the stand-in's side: from its dispatch of
INTERACTION_CREATE to the arrival of the interaction callback (InteractionRecord.created_at and
acked_at; no hook was added). Errors: an interaction not acknowledged within 3 s, a reply that
reports an unexpected error, or any Discord rule the stand-in saw broken.

Run: .venv/bin/python bench/bench_load.py [--guilds 4] [--channels 10] [--members 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.kling.emulator import KlingEmulator  # noqa: E402
from tests.cogs.delivery_support import start_bot_process, write_run_config  # noqa: E402
from tests.cogs.harness import is_board, make_video  # noqa: E402
from tests.discord_twin import DiscordTwin, TwinChannel, TwinMessage  # noqa: E402
from tests.discord_twin.model import walk_components  # noqa: E402
from tests.discord_twin.records import InteractionRecord  # noqa: E402
from tests.processes import ChildProcess  # noqa: E402

SELECTION_ENDPOINTS = ("init-selection", "add-selection", "delete-selection",
                       "clear-selection", "preview-selection")
ACK_LIMIT = 3.0
REPLY_WAIT = 90.0
UNEXPECTED = ("Something went wrong", "error id")
KINDS = ("status", "mark", "button", "frame")


async def start_bot(folder: Path, twin: DiscordTwin,
                    emulator: KlingEmulator) -> ChildProcess:
    config = write_run_config(folder, twin, emulator, log_level="WARNING")
    # BENCH_PROFILE=out.prof: run the bot under cProfile (written when it stops).
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] \
        if os.environ.get("BENCH_PROFILE") else []
    return await start_bot_process(config, twin, python_options=profile)


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process has had (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def board_in(channel: TwinChannel) -> TwinMessage | None:
    boards = [m for m in channel.visible_messages() if is_board(m)]
    return max(boards, key=lambda m: m.id) if boards else None


async def open_sessions(actors: dict[int, list[Any]], channels: list[TwinChannel],
                        video: Path) -> None:
    async def one(channel: TwinChannel) -> None:
        handle = await actors[channel.id][0].slash("kling edit", video=video, channel=channel)
        reply = await handle.response(timeout=120)
        if "editing session is open" not in reply.content:
            raise RuntimeError(f"no session in #{channel.name}: {reply.content}")

    await asyncio.gather(*(one(c) for c in channels))


async def fire(actor: Any, channel: TwinChannel, kind: str, rng: random.Random) -> Any:
    if kind == "status":
        return await actor.slash("kling status", channel=channel, wait=False)
    if kind == "mark":
        cell = f"{rng.choice('ABCDEFGHIJ')}{rng.randint(1, 6)}"
        return await actor.slash("kling mark", points=cell, frame=rng.choice((0, 20, 40)),
                                 channel=channel, wait=False)
    if kind == "frame":
        return await actor.slash("kling frame", frame=rng.randint(0, 59), channel=channel,
                                 wait=False)
    board = board_in(channel)
    assert board is not None
    labels = {c.get("label") for c in walk_components(board.components)
              if c.get("type") == 2 and not c.get("disabled")}
    label = "▶ +1" if "▶ +1" in labels else "◀ -1"
    return await actor.click(board, label, wait=False)


def reply_text(twin: DiscordTwin, record: InteractionRecord) -> str:
    ids = [record.original_message_id or 0, *record.followup_ids]
    return "\n".join(m.content for i in ids if (m := twin.find_message(i)) is not None)


async def run_round(twin: DiscordTwin, actors: dict[int, list[Any]],
                    channels: list[TwinChannel], rng: random.Random, kinds: list[str],
                    spread: float) -> list[Fired]:
    """One interaction per member, dispatched over `spread` seconds (0: all at once)."""
    plan = [(actor, channel, rng.choice(kinds)) for channel in channels
            for actor in actors[channel.id]]
    rng.shuffle(plan)
    fired: list[Fired] = []
    for actor, channel, kind in plan:
        board = board_in(channel)
        record = (await fire(actor, channel, kind, rng)).record
        fired.append(Fired(kind, record, board.edit_count if board else 0))
        # Let the gateway writer send each frame now: the clock starts at dispatch.
        await asyncio.sleep(spread / len(plan))
    deadline = time.monotonic() + REPLY_WAIT
    while time.monotonic() < deadline and any(f.done_at is None for f in fired):
        for item in fired:
            if item.done_at is None and settled(twin, item):
                item.done_at = twin.clock.now()
        await asyncio.sleep(0.02)
    return fired


@dataclass
class Fired:
    kind: str
    record: InteractionRecord
    board_edits: int  # edits of the channel's board before this interaction
    done_at: float | None = None  # when the member saw the final answer (board or reply)


def settled(twin: DiscordTwin, item: Fired) -> bool:
    record = item.record
    if record.ack_type is None:
        return False
    if record.ack_type == 6:  # deferred update: done when the board message was edited
        board = twin.find_message(record.source_message_id or 0)
        return board is not None and board.edit_count > item.board_edits
    message = twin.find_message(record.original_message_id or 0)
    return message is not None and not message.loading


def peak_in_flight(results: list[Fired]) -> int:
    """Most interactions dispatched and not yet answered at the same moment."""
    events = sorted([(f.record.created_at, 1) for f in results]
                    + [(f.done_at, -1) for f in results if f.done_at is not None])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


async def main_async(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    twin = await DiscordTwin.start()
    channels: list[TwinChannel] = []
    actors: dict[int, list[Any]] = {}
    for g in range(args.guilds):
        guild = twin.add_guild(f"Server {g}",
                               channels=[f"room-{c}" for c in range(args.channels)])
        for channel in guild.channels.values():
            channels.append(channel)
            actors[channel.id] = [twin.member(guild, f"m{g}-{channel.name}-{i}")
                                  for i in range(args.members)]
    video = make_video(work / "clip.mp4")
    async with KlingEmulator(seconds_per_stage=0.5, work_dir=work / "emulator") as emulator:
        proc = await start_bot(work, twin, emulator)
        try:
            began = time.monotonic()
            await open_sessions(actors, channels, video)
            print(f"setup: {len(channels)} sessions opened in {time.monotonic() - began:.1f} s")
            for endpoint in SELECTION_ENDPOINTS:
                emulator.faults.latency(1.0, max_seconds=3.0, endpoint=endpoint)
            results: list[Fired] = []
            began = time.monotonic()
            bot_cpu, own_cpu = cpu_seconds(proc.pid), time.process_time()
            for _ in range(args.rounds):
                results += await run_round(twin, actors, channels, rng, args.kinds.split(","),
                                          args.spread)
            wall = time.monotonic() - began
            cpu = (cpu_seconds(proc.pid) - bot_cpu, time.process_time() - own_cpu)
            rss = peak_rss_mib(proc.pid)
        finally:
            await proc.stop(timeout=30)
    report(twin, results, wall, rss, cpu, len(channels), args)
    await twin.stop()


def report(twin: DiscordTwin, results: list[Fired], wall: float,
           rss: float, cpu: tuple[float, float], channels: int,
           args: argparse.Namespace) -> None:
    errors: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    by_kind: dict[str, list[float]] = {k: [] for k in KINDS}
    for item in results:
        kind, record = item.kind, item.record
        if record.acked_at is None:
            errors["not acknowledged"] += 1
            continue
        ack = record.acked_at - record.created_at
        by_kind[kind].append(ack)
        if ack > ACK_LIMIT:
            errors["acknowledged after 3 s"] += 1
        text = reply_text(twin, record)
        if any(marker in text for marker in UNEXPECTED):
            errors[f"{kind}: unexpected error reply"] += 1
        elif record.ack_type != 6 and not text:
            errors[f"{kind}: no reply"] += 1
        elif record.ephemeral and kind in ("mark", "button") and "⚠" in text:
            refusals[kind] += 1
    for violation in twin.violations:
        errors[f"Discord rule {violation.code}"] += 1
    every = [t for times in by_kind.values() for t in times]
    per_round = len(results) // max(1, args.rounds)
    when = f"dispatched within {args.spread:g} s" if args.spread else "dispatched at once"
    print(f"load: {channels} channels x {args.members} members = {per_round} interactions "
          f"{when}, {args.rounds} rounds ({len(results)} total), Kling selection latency 1-3 s; "
          f"peak in flight (sent, not yet answered): {peak_in_flight(results)}")
    print(f"{'kind':<8}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for kind, times in [*by_kind.items(), ("all", every)]:
        if times:
            print(f"{kind:<8}{len(times):>6}{percentile(times, .5) * 1000:>10.1f}"
                  f"{percentile(times, .99) * 1000:>10.1f}{max(times) * 1000:>10.1f}")
    print(f"errors: {sum(errors.values())} {dict(errors) if errors else ''}")
    if refusals:
        print(f"user-facing refusals (limits, cooldowns): {dict(refusals)}")
    if every:
        print(f"mean time to acknowledge: {statistics.fmean(every) * 1000:.1f} ms")
    n = max(1, len(results))
    print(f"CPU per interaction: bot {cpu[0] / n * 1000:.1f} ms, stand-in + emulator "
          f"{cpu[1] / n * 1000:.1f} ms ({os.cpu_count()} cores)")
    print(f"bot peak RSS: {rss:.0f} MiB; wall time of the measured rounds: {wall:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=4)
    parser.add_argument("--channels", type=int, default=10, help="channels per server")
    parser.add_argument("--members", type=int, default=5, help="members per channel")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spread", type=float, default=0.0,
                        help="seconds over which each round's interactions are dispatched")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"comma-separated interaction kinds (default: {','.join(KINDS)})")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
