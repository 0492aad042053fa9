"""What bench_load.py prints for one phase of its run: time to answer per kind, split into
Kling's time, waiting behind the session's earlier Kling calls and the bot's own time; the
bot's CPU and peak memory; the machine's load; and the goals of issue 13."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load_split import Split, overlapping_calls, own_calls, split
from tests.discord_twin import DiscordTwin
from tests.discord_twin.records import InteractionRecord

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


@dataclass
class Phase:
    """One measured part of the run and what the machine and the bot did meanwhile."""

    name: str
    load: str  # how members acted (printed as is)
    results: list[Fired]
    wall: float
    bot_cpu: float
    driver_cpu: float
    rss: float
    loadavg_before: tuple[float, float, float]
    loadavg_after: tuple[float, float, float]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


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


def row(values: list[float]) -> str:
    if not values:
        return f"{'-':>8}"
    return (
        f"{percentile(values, 0.5) * 1000:>8.0f}{percentile(values, 0.99) * 1000:>8.0f}"
        f"{max(values) * 1000:>8.0f}"
    )


def format_loads(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def report(twin: DiscordTwin, phase: Phase, records: list[Any], sessions: dict[int, str]) -> None:
    results = phase.results
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
    began = min((f.created_at for f in results), default=0.0)
    ended = max((f.done_at or f.created_at for f in results), default=0.0)
    in_phase = [r for r in records if began <= r.started <= ended]
    overlaps = overlapping_calls(in_phase)
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
    print(f"\n=== {phase.name} ===")
    print(f"load: {phase.load}")
    print(
        f"{len(results)} interactions in {phase.wall:.1f} s "
        f"({len(results) / max(phase.wall, 1e-9):.1f} per second); "
        f"peak in flight (sent, not yet answered): {peak_in_flight(results)}"
    )
    print(
        f"machine: {os.cpu_count()} cores shared with other work; load average (1/5/15 min) "
        f"before {format_loads(phase.loadavg_before)}, after {format_loads(phase.loadavg_after)}"
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
        print(f"{kind:<9}{len(items):>5}" + "".join("  " + row(v).rjust(24) for v in cells))
    if os.environ.get("BENCH_WORST"):
        worst(results, owned, by_session, sessions, int(os.environ["BENCH_WORST"]))
    print(f"errors: {sum(errors.values())} {dict(errors) if errors else ''}")
    if refusals:
        print(f"user-facing refusals (cooldowns, limits, nothing to undo): {dict(refusals)}")
    n = max(1, len(results))
    print(
        f"CPU: bot {phase.bot_cpu:.1f} s ({phase.bot_cpu / n * 1000:.1f} ms per answer, "
        f"{phase.bot_cpu / max(phase.wall, 1e-9) * 100:.0f}% of one core); driver and Discord "
        f"stand-in {phase.driver_cpu:.1f} s (the emulator's CPU is its own process's)"
    )
    print(f"bot peak RSS during this phase: {phase.rss:.0f} MiB")
    goals(splits, phase.rss, overlaps)


def goals(splits: dict[str, list[Split]], rss: float, overlaps: int) -> None:
    bots = [s.bot for items in splits.values() for s in items]
    moves = [s.total for kind in ("frame", "button") for s in splits[kind]]
    for name, values, limit in (
        (f"bot's own time p99 <= {GOAL_BOT_P99 * 1000:.0f} ms", bots, GOAL_BOT_P99),
        (f"frame moves answered p99 <= {GOAL_MOVE_P99 * 1000:.0f} ms", moves, GOAL_MOVE_P99),
    ):
        if values:
            p99 = percentile(values, 0.99)
            print(f"goal {name}: {'met' if p99 <= limit else 'NOT met'} ({p99 * 1000:.0f} ms)")
    print(
        f"goal peak RSS <= {GOAL_RSS_MIB:.0f} MiB: "
        f"{'met' if rss <= GOAL_RSS_MIB else 'NOT met'} ({rss:.0f} MiB)"
    )
    print(
        f"goal Kling calls of a session one at a time: "
        f"{'met' if overlaps == 0 else f'NOT met ({overlaps} overlaps)'}"
    )


def worst(
    results: list[Fired],
    owned: dict[int, list[Any]],
    by_session: dict[str, list[Any]],
    sessions: dict[int, str],
    count: int,
) -> None:
    """BENCH_WORST=N: the timelines of the N answers with the most bot time (ms from dispatch)."""
    rows = []
    for index, item in enumerate(results):
        if item.done_at is None or item.outcome.startswith("error"):
            continue
        calls = by_session.get(sessions.get(item.channel_id, ""), [])
        rows.append((split(item, item.done_at, owned.get(index, []), calls), index, calls))
    rows.sort(key=lambda r: -r[0].bot)
    for cut, index, calls in rows[:count]:
        item = results[index]
        t0 = item.created_at

        def ms(t: float, t0: float = t0) -> str:
            return f"{(t - t0) * 1000:.0f}"

        mine = {id(r) for r in owned.get(index, [])}
        print(
            f"  {item.kind} {item.outcome or 'ok'}: answer {cut.total * 1000:.0f}, bot "
            f"{cut.bot * 1000:.0f}; ack {ms(item.record.acked_at or t0)}, answers "
            f"{[ms(t) for t in item.record.answered_at]}"
        )
        for r in sorted(calls, key=lambda r: r.started):
            if r.ended >= t0 and r.started <= item.done_at:
                own = "*" if id(r) in mine else " "
                print(f"    {own} {r.endpoint} {ms(r.started)}..{ms(r.ended)}")
        for r in owned.get(index, []):
            if r.endpoint == "files":
                print(f"    * files {ms(r.started)}..{ms(r.ended)}")
