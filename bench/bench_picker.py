"""Zoom picker: click until the private picker message is updated; the bot's share vs Kling's.

Everything runs on loopback: the Discord stand-in (tests/discord_twin) and the Kling emulator in
this process, the bot as a subprocess (`kling-bot run`, so its event loop is not shared with the
driver). One editing session is opened and each member opens a picker (not measured); then the
emulator answers every selection call after 1-3 s, and the members take turns: a cell click (the
picker shows that cell enlarged: no Kling call) then a sub-cell click (the point is marked through
Kling, the channel's board is updated, then the picker message). Members take turns so nobody
meets the marking cooldown; the points are cleared (not measured) before a frame holds 10.

Times are on the stand-in's side: from its dispatch of INTERACTION_CREATE to the edit of the
picker message. Kling's share of a mark is the time the emulator spent on the selection calls
made during that click (measured around the emulator's request handling, latency included); the
bot's share is the rest (Discord round trips on loopback, the database, drawing the board and
the picker, uploads). The bot's CPU time per click (all its threads, from the kernel's
scheduler statistics) is printed too: on a shared machine the wall-clock share includes waiting
for a CPU, the CPU time is the bot's own work alone. The load average is printed with the figures.

Run: python bench/bench_picker.py [--clicks 50] [--members 5] [--seed 7]
BENCH_KEEP=1 keeps the run's folder (the bot's log among its files).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.process_cpu import load_average, process_cpu  # noqa: E402
from bench.work_folder import work_folder  # noqa: E402
from bot.kling.emulator import KlingEmulator  # noqa: E402
from bot.zoom import cell_names  # noqa: E402
from tests.cogs.delivery_support import start_bot_process, write_run_config  # noqa: E402
from tests.cogs.harness import is_board, make_video  # noqa: E402
from tests.discord_twin import DiscordTwin, TwinChannel, TwinMessage  # noqa: E402

SELECTION_ENDPOINTS = ("add-selection", "delete-selection", "clear-selection")
CELLS = [name for row in cell_names() for name in row]
POINTS_PER_FRAME = 10
WAIT = 60.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class KlingSpans:
    """When the emulator handled each selection call (wall clock, as the stand-in's)."""

    def __init__(self, emulator: KlingEmulator) -> None:
        self.spans: list[tuple[str, float, float]] = []
        faults = emulator.runtime.faults
        handle = faults.apply

        async def timed(request: Any, endpoint: str, handler: Any) -> Any:
            start = time.time()
            try:
                return await handle(request, endpoint, handler)
            finally:
                self.spans.append((endpoint, start, time.time()))

        faults.apply = timed  # type: ignore[method-assign]

    def within(self, start: float, end: float) -> float:
        return sum(
            stop - begin
            for name, begin, stop in self.spans
            if name in SELECTION_ENDPOINTS and begin >= start and stop <= end
        )


async def click_and_wait(
    twin: DiscordTwin, actor: Any, message: TwinMessage, label: str
) -> tuple[float, float, str]:
    """(dispatched at, picker edited at, its text) for one click on a picker message."""
    before = twin.find_message(message.id).edit_count
    handle = await actor.click(twin.find_message(message.id), label, wait=False)
    record = handle.record

    def edited() -> TwinMessage | None:
        current = twin.find_message(message.id)
        if current.edit_count > before:
            return current
        if record.followup_ids or (record.original_message_id not in (None, message.id)):
            raise RuntimeError(f"{label}: the bot answered apart: {reply_text(twin, record)}")
        return None

    updated = await twin.wait_until(edited, WAIT)
    return record.created_at, twin.clock.now(), updated.text


def reply_text(twin: DiscordTwin, record: Any) -> str:
    ids = [record.original_message_id or 0, *record.followup_ids]
    return "\n".join(m.text for i in ids if (m := twin.find_message(i)) is not None)


async def open_pickers(twin: DiscordTwin, members: list[Any], board: TwinMessage) -> list[Any]:
    pickers = []
    for member in members:
        handle = await member.click(board, "Pick points")
        picker = await twin.wait_until(
            lambda h=handle: (
                (m := twin.find_message(h.record.original_message_id or 0)) is not None
                and not m.loading
                and m
            ),
            WAIT,
        )
        if "Pick a point" not in picker.text:
            raise RuntimeError(f"no picker: {picker.text}")
        pickers.append(picker)
    return pickers


async def clear_points(twin: DiscordTwin, actor: Any, channel: TwinChannel) -> None:
    board = await board_of(channel)
    await actor.click(board, "Clear")
    await twin.wait_until(lambda: "No points yet" in twin.find_message(board.id).text, WAIT)


async def board_of(channel: TwinChannel) -> TwinMessage:
    return await channel.wait_for_message(is_board, WAIT)


async def main_async(args: argparse.Namespace, work: Path) -> None:
    rng = random.Random(args.seed)
    twin = await DiscordTwin.start()
    guild = twin.add_guild("Server", channels=["room"])
    channel = guild.channel("room")
    members = [twin.member(guild, f"m{i}") for i in range(args.members)]
    clearer = twin.member(guild, "clearer")
    video = make_video(work / "clip.mp4")
    zoom: list[float] = []
    marks: list[tuple[float, float]] = []  # (total, Kling's share)
    cpu: dict[str, list[float]] = {"zoom": [], "mark": []}  # the bot's CPU seconds per click
    loads = [load_average()]
    async with KlingEmulator(seconds_per_stage=0.5, work_dir=work / "emulator") as emulator:
        spans = KlingSpans(emulator)
        proc = await start_bot_process(
            write_run_config(work, twin, emulator.base_url, log_level="WARNING"), twin
        )
        try:
            reply = await (await members[0].slash("kling edit", video=video)).response(timeout=WAIT)
            if "editing session is open" not in reply.content:
                raise RuntimeError(reply.content)
            pickers = await open_pickers(twin, members, await board_of(channel))
            for endpoint in SELECTION_ENDPOINTS:
                emulator.faults.latency(1.0, max_seconds=3.0, endpoint=endpoint)
            for i in range(args.clicks):
                if i and i % POINTS_PER_FRAME == 0:
                    await clear_points(twin, clearer, channel)
                member, picker = members[i % len(members)], pickers[i % len(members)]
                used = process_cpu(proc.pid)
                start, end, text = await click_and_wait(twin, member, picker, rng.choice(CELLS))
                zoom.append(end - start)
                cpu["zoom"].append(process_cpu(proc.pid) - used)
                board = await board_of(channel)
                boards = board.edit_count
                used = process_cpu(proc.pid)
                start, end, text = await click_and_wait(twin, member, picker, rng.choice(CELLS))
                if "Marked" not in text:
                    raise RuntimeError(f"mark {i}: {text}")
                marks.append((end - start, spans.within(start, end)))
                # The channel's board may still be on its way (drawn at the same time as the
                # picker): its work is this click's, and is not left to slow the next one.
                await twin.wait_until(
                    lambda b=board.id, n=boards: twin.find_message(b).edit_count > n, WAIT
                )
                cpu["mark"].append(process_cpu(proc.pid) - used)
                if i == 0:
                    loads.append(load_average())
            loads.append(load_average())
        finally:
            await proc.stop(timeout=30)
    report(zoom, marks, cpu, loads, twin, args)
    await twin.stop()


def report(
    zoom: list[float],
    marks: list[tuple[float, float]],
    cpu: dict[str, list[float]],
    loads: list[str],
    twin: DiscordTwin,
    args: argparse.Namespace,
) -> None:
    totals = [total for total, _ in marks]
    kling = [share for _, share in marks]
    bot = [total - share for total, share in marks]
    print(
        f"zoom picker: {args.clicks} cell clicks and {args.clicks} sub-cell clicks by "
        f"{args.members} members, Kling selection latency 1-3 s"
    )
    print(
        f"load average (1, 5, 15 min) at start, after the first click, after: "
        f"{' | '.join(loads)} ({os.cpu_count()} cores)"
    )
    print(f"{'step':<32}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    rows = [
        ("cell click -> picker updated", zoom),
        ("mark click -> picker updated", totals),
        ("  of which Kling", kling),
        ("  of which the bot", bot),
        ("bot CPU time, cell click", cpu["zoom"]),
        ("bot CPU time, mark click", cpu["mark"]),
    ]
    for name, values in rows:
        print(
            f"{name:<32}{len(values):>5}{percentile(values, 0.5) * 1000:>10.1f}"
            f"{percentile(values, 0.99) * 1000:>10.1f}{max(values) * 1000:>10.1f}"
        )
    print(f"Discord rules broken: {len(twin.violations)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50, help="marks (each after a cell click)")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with work_folder("bench-picker-") as work:
        asyncio.run(main_async(args, work))


if __name__ == "__main__":
    main()
