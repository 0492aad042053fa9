"""Web picker: a click on the page until the mask is visible there; the bot's share vs Kling's.

Everything runs on loopback: the Discord stand-in (tests/discord_twin) and the Kling emulator in
this process, the bot as a subprocess (`kling-bot run` with `[web] public_url` set, so its event
loop is not shared with the driver), and Debian's Chromium (/usr/bin/chromium, headless) driven
through Playwright. One editing session is opened; each member presses **Pick points** on the
board and opens their **Open the picker** link in a page of their own (kept open all along, so
every change also reaches the other members' pages live, as when people work together). Then the
emulator answers every selection call after 1-3 s, and the members take turns: each click lands on
the green square of a frame that has no point yet (so the object has no mask before the click).
After 10 marked frames (Kling's limit) a member clears the points on the Discord board (not
measured).

What is measured happens in the page itself, in page time (performance.now()), by a probe the
benchmark injects (the shipped page has no test hook): a capturing click listener notes the click;
then, on every animation frame (requestAnimationFrame), the probe reads the canvas pixels at four
spots over the square away from the clicked point and compares them with the same spots just
before the click. MASK VISIBLE is the first animation frame in which at least three of the four
spots changed clearly (the translucent fill). The moment the page drew the frame with the new
masks (it sets `data-shown` on the canvas right after drawing; a MutationObserver notes it) is
reported as well, and so is when the browser finished decoding the masks (the probe wraps
`createImageBitmap` and notes when each decoding resolves).

Kling's share of a click is the time the emulator spent on the selection call the click made (its
own record of each call, latency included: the page's mark request waits for it, so all of it is
on the click's path; the call is found by session, frame and time, page time being turned into
wall-clock time with performance.timeOrigin and the page's clock offset measured before each
click). The bot's share is the rest: the page's request, the bot's checks, database and board
bookkeeping, the frame's mask overlays drawn by the bot and carried by the answer (the page
keeps the frame's plain picture, fetched when it moved to that frame, so a click is that one
request), the browser decoding the overlays and drawing frame and overlays, and the wait for the
next animation frame (at most ~17 ms); it is split step by step with the page's Resource Timing
of the mark request and the decoding times. A page request for masks or a frame after a click
would be a second round trip: they are counted and printed.

The bot's CPU time per click (all its threads, from the kernel's scheduler statistics) is
printed too, from before the click until every page shows the new state and the Discord board
is edited (the other pages' requests and the board are work the click causes): on a shared
machine the wall-clock share includes waiting for a CPU, the CPU time is the bot's own work.

Cooldowns (4 at once, then one every 2 s per member) never refuse a click: members take turns, so
one member's clicks are several seconds apart (the least gap is printed); a refusal stops the run.

The probe and the page driving are in bench/web_picker_page.py, the split of each click and the
report in bench/web_picker_report.py; this script sets up the session and takes the turns.

Run: python bench/bench_web_picker.py [--clicks 50] [--members 5] [--seed 7]
BENCH_PROFILE=out.prof runs the bot under cProfile (written when it stops).
BENCH_KEEP=1 keeps the run's folder (the bot's log among its files).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load_split import SELECTION_ENDPOINTS  # noqa: E402
from bench.process_cpu import load_average, process_cpu  # noqa: E402
from bench.web_picker_page import (  # noqa: E402
    CENTRE,
    PROBE,
    SPOTS_NEEDED,
    SPREAD,
    WAIT,
    click_once,
    clock_offset,
    show_frame,
    wait_showing,
    wait_version,
)
from bench.web_picker_report import Click, kling_share, parts_of, report  # noqa: E402
from bench.work_folder import work_folder  # noqa: E402
from bot.kling.emulator import KlingEmulator  # noqa: E402
from tests.bot.web.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP  # noqa: E402
from tests.cogs.delivery_support import start_bot_process, write_run_config  # noqa: E402
from tests.cogs.harness import is_board, make_video  # noqa: E402
from tests.discord_twin import DiscordTwin, TwinChannel, TwinMessage  # noqa: E402

MAX_MARKED_FRAMES = 10
# One frame per click until the points are cleared: spread over the 60-frame clip.
FRAMES = [3 + 6 * k for k in range(MAX_MARKED_FRAMES)]


def kling_session(database: Path) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT kling_session_id FROM sessions WHERE status = 'active'"
        ).fetchone()
    if row is None or not row[0]:
        raise RuntimeError("no active editing session in the bot's database")
    return str(row[0])


async def board_of(channel: TwinChannel) -> TwinMessage:
    return await channel.wait_for_message(is_board, WAIT)


async def picker_link(twin: DiscordTwin, member: Any, board: TwinMessage) -> str:
    handle = await member.click(board, "Pick points")
    picker = await twin.wait_until(
        lambda: (
            (m := twin.find_message(handle.record.original_message_id or 0)) is not None
            and not m.loading
            and m
        ),
        WAIT,
    )
    links = [str(b["url"]) for b in picker.buttons if b.get("url")]
    if not links:
        raise RuntimeError(f"the picker has no Open the picker link: {picker.text}")
    return links[0]


async def clear_points(
    twin: DiscordTwin, clearer: Any, channel: TwinChannel, pages: list[Any]
) -> str:
    board = await board_of(channel)
    await clearer.click(board, "Clear")
    await twin.wait_until(lambda: "No points yet" in twin.find_message(board.id).text, WAIT)
    versions = {
        await wait_showing(
            page, int(await page.evaluate("document.getElementById('slider').value")), points=0
        )
        for page in pages
    }
    if len(versions) != 1:
        raise RuntimeError(f"pages disagree after clearing: {versions}")
    return versions.pop()


async def start_bot(work: Path, twin: DiscordTwin, emulator: KlingEmulator, port: int) -> Any:
    config = write_run_config(work, twin, emulator.base_url, log_level="WARNING")
    with config.open("a") as out:
        out.write(
            f'[web]\npublic_url = "http://127.0.0.1:{port}"\nhost = "127.0.0.1"\nport = {port}\n'
        )
    profile = (
        ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
        if os.environ.get("BENCH_PROFILE")
        else []
    )
    return await start_bot_process(config, twin, python_options=profile)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_clicks(
    args: argparse.Namespace,
    twin: DiscordTwin,
    channel: TwinChannel,
    emulator: KlingEmulator,
    session: str,
    members: list[Any],
    clearer: Any,
    browser: Any,
    offsets: list[float],
    pid: int,
) -> list[Click]:
    rng = random.Random(args.seed)
    board = await board_of(channel)
    pages = []
    for member in members:
        link = await picker_link(twin, member, board)
        page = await (await browser.new_context(viewport=DESKTOP)).new_page()
        await page.add_init_script(PROBE)
        await page.goto(link)
        pages.append(page)
    version = ""
    for page in pages:
        version = await wait_showing(page, 0)
    for endpoint in SELECTION_ENDPOINTS:
        emulator.faults.latency(1.0, max_seconds=3.0, endpoint=endpoint)
    clicks: list[Click] = []
    for i in range(args.clicks):
        if i and i % MAX_MARKED_FRAMES == 0:
            version = await clear_points(twin, clearer, channel, pages)
        member = i % len(pages)
        page, frame = pages[member], FRAMES[i % MAX_MARKED_FRAMES]
        await show_frame(page, frame, version)
        point = (
            CENTRE[0] + rng.uniform(-SPREAD[0], SPREAD[0]),
            CENTRE[1] + rng.uniform(-SPREAD[1], SPREAD[1]),
        )
        # The page's clock drifts from this process's by some ms a minute: measured per click.
        offset = await clock_offset(page)
        offsets.append(offset)
        board_id = (await board_of(channel)).id
        board_edits = twin.find_message(board_id).edit_count
        used = process_cpu(pid)
        result = await click_once(page, point)
        origin = result["origin"] / 1000 - offset
        start, end = origin + result["clicked"] / 1000, origin + result["visible"] / 1000
        kling, adds = kling_share(list(emulator.faults.records), session, start, end, frame)
        if adds != 1:
            raise RuntimeError(f"click {i}: {adds} add-selection calls on frame {frame}")
        deciding = sorted(result["changes"], reverse=True)[SPOTS_NEEDED - 1]
        clicks.append(
            Click(
                member,
                frame,
                end - start,
                (result["drawn"] - result["clicked"]) / 1000,
                kling,
                parts_of(result, kling),
                adds,
                start,
                deciding,
                int(result["others"]),
            )
        )
        version = await wait_showing(page, frame)
        for other in pages:
            await wait_version(other, version)
        await twin.wait_until(
            lambda: twin.find_message(board_id).edit_count > board_edits,  # noqa: B023
            WAIT,
        )
        clicks[-1].cpu = process_cpu(pid) - used
    return clicks


async def main_async(args: argparse.Namespace, work: Path) -> None:
    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    twin = await DiscordTwin.start()
    guild = twin.add_guild("Server", channels=["room"])
    channel = guild.channel("room")
    members = [twin.member(guild, f"m{i}") for i in range(args.members)]
    clearer = twin.member(guild, "clearer")
    video = make_video(work / "clip.mp4")
    offsets: list[float] = []
    loads = [load_average()]
    async with KlingEmulator(seconds_per_stage=0.5, work_dir=work / "emulator") as emulator:
        proc = await start_bot(work, twin, emulator, free_port())
        try:
            reply = await (await members[0].slash("kling edit", video=video)).response(timeout=WAIT)
            if "editing session is open" not in reply.content:
                raise RuntimeError(reply.content)
            session = kling_session(work / "data" / "bot.sqlite3")
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
                try:
                    loads.append(load_average())
                    clicks = await run_clicks(
                        args,
                        twin,
                        channel,
                        emulator,
                        session,
                        members,
                        clearer,
                        browser,
                        offsets,
                        proc.pid,
                    )
                    loads.append(load_average())
                finally:
                    await browser.close()
        finally:
            await proc.stop(timeout=30)
    report(clicks, offsets, loads, twin, args)
    await twin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with work_folder("bench-web-picker-") as work:
        asyncio.run(main_async(args, work))


if __name__ == "__main__":
    main()
