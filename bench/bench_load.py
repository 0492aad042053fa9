"""Load: many members in many channels acting at once on the real bot (`kling-bot run`).

Everything runs on loopback: the Discord stand-in (tests/discord_twin) and the Kling emulator in
this process, the bot as a subprocess (so its event loop is not shared with the driver). One
editing session is opened per channel first (not measured); then the emulator answers every
selection call after 1-3 s, and each round fires one interaction per member at the same moment:
`/kling status`, `/kling mark` (unique points), `/kling undo`, `/kling frame`, a board button
(`▶ +1` / `◀ -1`) or `/kling preview`.

TIME TO ANSWER is what a member waits for: from the stand-in's dispatch of INTERACTION_CREATE to
the last followup or message edit the bot sent through that interaction (the answer, not the
acknowledgement; for a board button, its edit of the board). It is split (bench/load_split.py)
into Kling's own time on the critical path (the emulator's record of each selection call),
waiting behind the same session's earlier Kling calls, and the bot's own time (the rest).
Time to acknowledge is measured too. Errors: an interaction not acknowledged within 3 s, not
answered within 90 s, a reply that reports an unexpected error, any Discord rule the stand-in saw
broken, or two Kling calls of one session in progress at once.

Run: .venv/bin/python bench/bench_load.py [--guilds 4] [--channels 10] [--members 5] [--rounds 3]
(the default: 200 members in 40 channels). BENCH_PROFILE=out.prof runs the bot under cProfile;
BENCH_TRACEMALLOC=report.txt writes the biggest Python allocations at the bot's high.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load_split import (  # noqa: E402
    SELECTION_ENDPOINTS,
    Split,
    overlapping_calls,
    own_calls,
    split,
)
from bot.kling.emulator import KlingEmulator  # noqa: E402
from tests.cogs.delivery_support import start_bot_process, write_run_config  # noqa: E402
from tests.cogs.harness import is_board, make_video  # noqa: E402
from tests.discord_twin import DiscordTwin, TwinChannel, TwinMessage  # noqa: E402
from tests.discord_twin.model import walk_components  # noqa: E402
from tests.discord_twin.records import InteractionRecord  # noqa: E402
from tests.processes import ChildProcess  # noqa: E402

ACK_LIMIT = 3.0
REPLY_WAIT = 90.0
UNEXPECTED = ("Something went wrong", "error id")
KINDS = ("status", "mark", "undo", "frame", "button", "preview")
# What a successful answer says (anything else from a member's action is a refusal: cooldowns,
# limits, nothing to undo).
SUCCESS = {
    "status": "Editing session",
    "mark": "Marked frame",
    "undo": "Removed the point",
    "frame": "The board shows frame",
    "preview": "The preview is in the channel",
}
GOAL_BOT_P99 = 0.150
GOAL_MOVE_P99 = 0.300
GOAL_RSS_MIB = 200.0


async def start_bot(folder: Path, twin: DiscordTwin, emulator: KlingEmulator) -> ChildProcess:
    config = write_run_config(folder, twin, emulator, log_level="WARNING")
    # BENCH_PROFILE=out.prof: run the bot under cProfile (written when it stops).
    profile = (
        ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
        if os.environ.get("BENCH_PROFILE")
        else []
    )
    # BENCH_TRACEMALLOC=report.txt: what Python memory the bot holds at its high (traced_bot).
    module = "bench.traced_bot" if os.environ.get("BENCH_TRACEMALLOC") else "bot.cli"
    return await start_bot_process(config, twin, python_options=profile, module=module)


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


@dataclass
class Fired:
    kind: str
    record: InteractionRecord
    channel_id: int
    board_edits: int  # edits of the channel's board before this interaction
    points: tuple[tuple[float, float], ...] = ()  # a mark's exact points
    board_edited_at: float | None = None  # first board edit seen (buttons, old bots)
    done_at: float | None = None  # when the member saw the final answer
    succeeded: bool = False
    outcome: str = ""  # "", "error: ...", "refused"
    calls: list[Any] = field(default_factory=list)

    @property
    def created_at(self) -> float:
        return self.record.created_at


def unique_point(rng: random.Random, used: set[tuple[float, float]]) -> tuple[float, float]:
    while True:
        point = (round(rng.uniform(0.05, 0.95), 4), round(rng.uniform(0.05, 0.95), 4))
        if point not in used:
            used.add(point)
            return point


async def fire(
    actor: Any, channel: TwinChannel, kind: str, rng: random.Random, used: set[tuple[float, float]]
) -> tuple[Any, tuple[tuple[float, float], ...]]:
    if kind == "status":
        return await actor.slash("kling status", channel=channel, wait=False), ()
    if kind == "mark":
        x, y = unique_point(rng, used)
        return await actor.slash(
            "kling mark",
            points=f"{x},{y}",
            frame=rng.choice((0, 20, 40)),
            channel=channel,
            wait=False,
        ), ((x, y),)
    if kind == "undo":
        return await actor.slash("kling undo", channel=channel, wait=False), ()
    if kind == "preview":
        return await actor.slash("kling preview", channel=channel, wait=False), ()
    if kind == "frame":
        return await actor.slash(
            "kling frame", frame=rng.randint(0, 59), channel=channel, wait=False
        ), ()
    board = board_in(channel)
    if board is None:
        raise RuntimeError(f"no board in #{channel.name}")
    labels = {
        c.get("label")
        for c in walk_components(board.components)
        if c.get("type") == 2 and not c.get("disabled")
    }
    label = "▶ +1" if "▶ +1" in labels else "◀ -1"
    return await actor.click(board, label, wait=False), ()


def reply_text(twin: DiscordTwin, record: InteractionRecord) -> str:
    ids = [record.original_message_id or 0, *record.followup_ids]
    return "\n".join(m.content for i in ids if (m := twin.find_message(i)) is not None)


def settled(twin: DiscordTwin, item: Fired) -> bool:
    record = item.record
    if record.ack_type is None:
        return False
    if record.ack_type == 6:  # deferred update: its edit of the board, or a followup
        if item.board_edited_at is None:
            board = twin.find_message(record.source_message_id or 0)
            if board is not None and board.edit_count > item.board_edits:
                item.board_edited_at = twin.clock.now()
        return bool(record.answered_at)
    if record.ack_type in (4, 7):
        return True
    message = twin.find_message(record.original_message_id or 0)
    return message is not None and not message.loading


async def run_round(
    twin: DiscordTwin,
    actors: dict[int, list[Any]],
    channels: list[TwinChannel],
    rng: random.Random,
    kinds: list[str],
    spread: float,
    used: set[tuple[float, float]],
) -> list[Fired]:
    """One interaction per member, dispatched over `spread` seconds (0: all at once)."""
    plan = [
        (actor, channel, rng.choice(kinds)) for channel in channels for actor in actors[channel.id]
    ]
    rng.shuffle(plan)
    fired: list[Fired] = []
    for actor, channel, kind in plan:
        board = board_in(channel)
        handle, points = await fire(actor, channel, kind, rng, used)
        fired.append(
            Fired(kind, handle.record, channel.id, board.edit_count if board else 0, points)
        )
        # Let the gateway writer send each frame now: the clock starts at dispatch.
        await asyncio.sleep(spread / len(plan))

    def all_settled() -> bool:
        return all([settled(twin, item) for item in fired])  # every item: notes board edits

    with contextlib.suppress(TimeoutError):  # what is still unanswered is reported
        await twin.wait_until(all_settled, REPLY_WAIT)
    return fired


def finish(twin: DiscordTwin, item: Fired) -> None:
    """The answer's time and what it said."""
    record = item.record
    if record.acked_at is None:
        item.outcome = "error: not acknowledged"
        return
    if record.answered_at:
        item.done_at = max(record.answered_at)
    elif record.ack_type in (4, 7):
        item.done_at = record.acked_at
    elif record.ack_type == 6 and item.board_edited_at is not None:
        item.done_at = item.board_edited_at  # a bot that edits the board with its own token
    if item.done_at is None:
        item.outcome = f"error: no answer within {REPLY_WAIT:g} s"
        return
    text = reply_text(twin, record)
    if any(marker in text for marker in UNEXPECTED):
        item.outcome = "error: unexpected error reply"
    elif item.kind == "button":
        item.succeeded = not record.followup_ids  # a followup: a refusal (e.g. ended session)
        item.outcome = "" if item.succeeded else "refused"
    elif SUCCESS[item.kind] in text:
        item.succeeded = True
    else:
        item.outcome = "refused"


def peak_in_flight(results: list[Fired]) -> int:
    """Most interactions dispatched and not yet answered at the same moment."""
    events = sorted(
        [(f.created_at, 1) for f in results]
        + [(f.done_at, -1) for f in results if f.done_at is not None]
    )
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
        guild = twin.add_guild(f"Server {g}", channels=[f"room-{c}" for c in range(args.channels)])
        for channel in guild.channels.values():
            channels.append(channel)
            actors[channel.id] = [
                twin.member(guild, f"m{g}-{channel.name}-{i}") for i in range(args.members)
            ]
    video = make_video(work / "clip.mp4")
    used: set[tuple[float, float]] = set()
    async with KlingEmulator(seconds_per_stage=0.5, work_dir=work / "emulator") as emulator:
        proc = await start_bot(work, twin, emulator)
        try:
            began = time.monotonic()
            await open_sessions(actors, channels, video)
            print(f"setup: {len(channels)} sessions opened in {time.monotonic() - began:.1f} s")
            sessions = kling_sessions(work / "data" / "bot.sqlite3")
            for endpoint in SELECTION_ENDPOINTS:
                emulator.faults.latency(1.0, max_seconds=3.0, endpoint=endpoint)
            results: list[Fired] = []
            began = time.monotonic()
            bot_cpu, own_cpu = cpu_seconds(proc.pid), time.process_time()
            for _ in range(args.rounds):
                results += await run_round(
                    twin, actors, channels, rng, args.kinds.split(","), args.spread, used
                )
            wall = time.monotonic() - began
            cpu = (cpu_seconds(proc.pid) - bot_cpu, time.process_time() - own_cpu)
            rss = peak_rss_mib(proc.pid)
        finally:
            await proc.stop(timeout=30)
        records = list(emulator.faults.records)
    report(twin, results, records, sessions, wall, rss, cpu, len(channels), args)
    await twin.stop()


def row(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<9}{'-':>8}"
    return (
        f"{label:<9}{percentile(values, 0.5) * 1000:>8.0f}{percentile(values, 0.99) * 1000:>8.0f}"
        f"{max(values) * 1000:>8.0f}"
    )


def report(
    twin: DiscordTwin,
    results: list[Fired],
    records: list[Any],
    sessions: dict[int, str],
    wall: float,
    rss: float,
    cpu: tuple[float, float],
    channels: int,
    args: argparse.Namespace,
) -> None:
    errors: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    for item in results:
        finish(twin, item)
        if item.outcome.startswith("error"):
            errors[f"{item.kind}: {item.outcome.removeprefix('error: ')}"] += 1
        elif item.outcome == "refused":
            refusals[item.kind] += 1
        if item.record.acked_at is not None and item.record.acked_at - item.created_at > ACK_LIMIT:
            errors["acknowledged after 3 s"] += 1
    for violation in twin.violations:
        errors[f"Discord rule {violation.code}"] += 1
    overlaps = overlapping_calls(records)
    if overlaps:
        errors["Kling calls of one session at the same time"] += overlaps
    owned = own_calls(results, records, sessions)
    by_session: dict[str, list[Any]] = {}
    for record in records:
        if record.session_id:
            by_session.setdefault(record.session_id, []).append(record)
    splits: dict[str, list[Split]] = {k: [] for k in KINDS}
    acks: dict[str, list[float]] = {k: [] for k in KINDS}
    for index, item in enumerate(results):
        if item.record.acked_at is not None:
            acks[item.kind].append(item.record.acked_at - item.created_at)
        if item.done_at is None or item.outcome.startswith("error"):
            continue
        calls = by_session.get(sessions.get(item.channel_id, ""), [])
        splits[item.kind].append(split(item, item.done_at, owned.get(index, []), calls))
    per_round = len(results) // max(1, args.rounds)
    when = f"dispatched within {args.spread:g} s" if args.spread else "dispatched at once"
    print(
        f"load: {channels} channels x {args.members} members = {per_round} interactions "
        f"{when}, {args.rounds} rounds ({len(results)} total), Kling selection latency 1-3 s; "
        f"peak in flight (sent, not yet answered): {peak_in_flight(results)}"
    )
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print("time to answer, ms (answered, refusals included; p50 / p99 / max):")
    print(
        f"{'kind':<9}{'n':>5}  {'answer':^24}  {'Kling':^24}  {'waiting':^24}  "
        f"{'bot':^24}  {'ack':^24}"
    )
    every: list[Split] = []
    for kind in [*KINDS, "all"]:
        items = every if kind == "all" else splits[kind]
        if kind != "all":
            every += items
        ack = [t for k in KINDS for t in acks[k]] if kind == "all" else acks[kind]
        if not items and not ack:
            continue
        cells = [
            [s.total for s in items],
            [s.kling for s in items],
            [s.waiting for s in items],
            [s.bot for s in items],
            ack,
        ]
        print(
            f"{kind:<9}{len(items):>5}"
            + "".join("  " + row("", values)[9:].rjust(24) for values in cells)
        )
    print(f"errors: {sum(errors.values())} {dict(errors) if errors else ''}")
    if refusals:
        print(f"user-facing refusals (cooldowns, limits, nothing to undo): {dict(refusals)}")
    n = max(1, len(results))
    print(
        f"CPU: bot {cpu[0]:.1f} s ({cpu[0] / n * 1000:.1f} ms per interaction), stand-in + "
        f"emulator {cpu[1]:.1f} s; wall time of the measured rounds: {wall:.1f} s"
    )
    print(f"bot peak RSS: {rss:.0f} MiB")
    goals(splits, rss, overlaps)


def goals(splits: dict[str, list[Split]], rss: float, overlaps: int) -> None:
    bots = [s.bot for items in splits.values() for s in items]
    moves = [s.total for kind in ("frame", "button") for s in splits[kind]]
    checks = [
        (
            f"bot's own time p99 <= {GOAL_BOT_P99 * 1000:.0f} ms",
            bots,
            lambda v: percentile(v, 0.99) <= GOAL_BOT_P99,
            lambda v: percentile(v, 0.99) * 1000,
        ),
        (
            f"frame moves answered p99 <= {GOAL_MOVE_P99 * 1000:.0f} ms",
            moves,
            lambda v: percentile(v, 0.99) <= GOAL_MOVE_P99,
            lambda v: percentile(v, 0.99) * 1000,
        ),
    ]
    for name, values, ok, figure in checks:
        if values:
            print(f"goal {name}: {'met' if ok(values) else 'NOT met'} ({figure(values):.0f} ms)")
    print(
        f"goal peak RSS <= {GOAL_RSS_MIB:.0f} MiB: "
        f"{'met' if rss <= GOAL_RSS_MIB else 'NOT met'} ({rss:.0f} MiB)"
    )
    print(
        f"goal Kling calls of a session one at a time: "
        f"{'met' if overlaps == 0 else f'NOT met ({overlaps} overlaps)'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=4)
    parser.add_argument("--channels", type=int, default=10, help="channels per server")
    parser.add_argument("--members", type=int, default=5, help="members per channel")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--spread",
        type=float,
        default=0.0,
        help="seconds over which each round's interactions are dispatched",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"comma-separated interaction kinds (default: {','.join(KINDS)})",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
