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

Run: python bench/bench_web_picker.py [--clicks 50] [--members 5] [--seed 7]
BENCH_PROFILE=out.prof runs the bot under cProfile (written when it stops).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load_split import SELECTION_ENDPOINTS, covered  # noqa: E402
from bench.process_cpu import load_average, process_cpu  # noqa: E402
from bot.kling.emulator import KlingEmulator  # noqa: E402
from tests.bot.web.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP  # noqa: E402
from tests.cogs.delivery_support import start_bot_process, write_run_config  # noqa: E402
from tests.cogs.harness import HEIGHT, SQUARE, WIDTH, is_board, make_video  # noqa: E402
from tests.discord_twin import DiscordTwin, TwinChannel, TwinMessage  # noqa: E402

WAIT = 60.0
GOAL_BOT_P99 = 0.150
MAX_MARKED_FRAMES = 10
# One frame per click until the points are cleared: spread over the 60-frame clip.
FRAMES = [3 + 6 * k for k in range(MAX_MARKED_FRAMES)]
# The green square in relative coordinates; clicks land near its centre, the probe reads four
# spots near its corners (well away from the click's ring and numbered dot).
SX0, SY0, SX1, SY1 = SQUARE[0] / WIDTH, SQUARE[1] / HEIGHT, SQUARE[2] / WIDTH, SQUARE[3] / HEIGHT
CENTRE = ((SX0 + SX1) / 2, (SY0 + SY1) / 2)
SPREAD = (0.03, 0.05)  # how far from the centre a click may land
SPOTS = [
    (SX0 + 0.03, SY0 + 0.04),
    (SX1 - 0.03, SY0 + 0.04),
    (SX0 + 0.03, SY1 - 0.04),
    (SX1 - 0.03, SY1 - 0.04),
]
CHANGED = 60.0  # sum over R, G, B of a spot's mean change: the fill moves it by well over 100
SPOTS_NEEDED = 3

PROBE = """
// When each decoding the page asks for is done (the masks' overlays, and frame pictures).
window.__benchDecoded = [];
const __benchCreateImageBitmap = window.createImageBitmap.bind(window);
window.createImageBitmap = (...args) => __benchCreateImageBitmap(...args).then((bitmap) => {
  window.__benchDecoded.push(performance.now());
  return bitmap;
});
window.__benchProbe = {
  result: null,
  arm(spots, changedBy, needed) {
    const canvas = document.getElementById("frame");
    const ctx = canvas.getContext("2d");
    const read = () => spots.map(([fx, fy]) => {
      const d = ctx.getImageData(Math.round(fx * canvas.width) - 2,
                                 Math.round(fy * canvas.height) - 2, 5, 5).data;
      const mean = [0, 0, 0];
      for (let i = 0; i < d.length; i += 4) {
        mean[0] += d[i] / 25; mean[1] += d[i + 1] / 25; mean[2] += d[i + 2] / 25;
      }
      return mean;
    });
    const before = read();
    performance.clearResourceTimings();  // the buffer is small: keep only this click's
    // An error shown from now on is this click's (the benchmark stops on it).
    document.getElementById("status").classList.remove("error");
    const changes = () => read().map((rgb, i) =>
      Math.abs(rgb[0] - before[i][0]) + Math.abs(rgb[1] - before[i][1]) +
      Math.abs(rgb[2] - before[i][2]));
    const masked = () => changes().filter((c) => c > changedBy).length >= needed;
    const probe = this;
    probe.result = null;
    let clicked = null;
    let drawn = null;
    const observer = new MutationObserver(() => {
      if (clicked !== null && drawn === null && masked()) drawn = performance.now();
    });
    observer.observe(canvas, { attributes: true, attributeFilter: ["data-shown"] });
    window.addEventListener("click", () => {
      clicked = performance.now();
      const tick = () => {
        const now = performance.now();
        if (masked()) {
          observer.disconnect();
          const seen = { origin: performance.timeOrigin, clicked, visible: now,
                         drawn: drawn === null ? now : drawn, changes: changes() };
          // The page's requests since the click (Resource Timing): the mark, and any other
          // (a second round trip). Chromium may add a request's entry a little after its
          // response was used: wait.
          const since = (part) => performance.getEntriesByType("resource")
            .filter((e) => e.name.includes(part) && e.startTime >= clicked);
          const finish = (tries) => {
            const marks = since("/api/mark");
            const last = marks[marks.length - 1];
            seen.mark = last ? [last.startTime, last.responseEnd] : null;
            seen.others = since("/api/masks/").length + since("/api/frame/").length;
            if (seen.mark) {
              const decoded = window.__benchDecoded.filter(
                (t) => t >= seen.mark[1] && t <= seen.drawn);
              seen.decoded = decoded.length ? Math.max(...decoded) : seen.mark[1];
            }
            if (seen.mark || tries === 0) probe.result = seen;
            else setTimeout(() => finish(tries - 1), 20);
          };
          finish(100);
        } else {
          requestAnimationFrame(tick);
        }
      };
      requestAnimationFrame(tick);
    }, { capture: true, once: true });
  },
};
"""


@dataclass
class Click:
    member: int
    frame: int
    total: float  # click -> first animation frame showing the mask
    drawn: float  # click -> the page drew the frame with the new masks
    kling: float
    parts: dict[str, float]  # the bot's share, step by step (PARTS)
    calls: int  # this click's add-selection calls the emulator saw
    clicked_at: float  # wall clock
    change: float  # the probe's deciding spot change (sum over R, G, B) when it saw the mask
    others: int  # the page's requests for masks or frames after the click (a second trip)
    cpu: float = 0.0  # the bot's CPU seconds for the click and all it caused

    @property
    def bot(self) -> float:
        return max(0.0, self.total - self.kling)


# The bot's share of a click, step by step, from the page's Resource Timing of its mark request
# and the probe's decoding times.
PARTS = (
    "click -> mark request sent",
    "mark request, less Kling (+ overlays)",
    "answer -> overlays decoded",
    "decoded -> drawn",
    "drawn -> next frame",
)


def parts_of(result: dict[str, Any], kling: float) -> dict[str, float]:
    mark = result["mark"]
    if mark is None:
        raise RuntimeError(f"the page's mark request after the click was not seen: {result}")
    marks = [
        result["clicked"],
        mark[0],
        mark[1],
        result["decoded"],
        result["drawn"],
        result["visible"],
    ]
    steps = [(b - a) / 1000 for a, b in itertools.pairwise(marks)]
    steps[1] -= kling
    return dict(zip(PARTS, steps, strict=True))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


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


async def wait_showing(page: Any, frame: int, *, points: int | None = None) -> str:
    """Wait until the page's canvas shows `frame` at the page's newest state; its version."""
    await page.wait_for_function(
        """([frame, points]) => {
            const v = document.body.dataset.version;
            const shown = document.getElementById('frame').dataset.shown || '';
            const listed = document.querySelectorAll('#points li[data-point]').length;
            return v && shown === frame + '@' + v && (points === null || listed === points);
        }""",
        arg=[frame, points],
        timeout=WAIT * 1000,
    )
    return str(await page.evaluate("document.body.dataset.version"))


async def show_frame(page: Any, frame: int, version: str) -> None:
    """Move the page to `frame` and wait for it there with the state `version` (not measured)."""
    await page.wait_for_function(
        "v => document.body.dataset.version === v", arg=version, timeout=WAIT * 1000
    )
    await page.fill("#slider", str(frame))
    await wait_showing(page, frame)


async def wait_version(page: Any, version: str) -> None:
    """Wait until `page` has the state `version` and shows its frame at that state."""
    await page.wait_for_function(
        """(v) => document.body.dataset.version === v &&
            (document.getElementById('frame').dataset.shown || '').endsWith('@' + v)""",
        arg=version,
        timeout=WAIT * 1000,
    )


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


async def click_once(page: Any, point: tuple[float, float]) -> dict[str, Any]:
    await page.evaluate(
        "([s, c, n]) => window.__benchProbe.arm(s, c, n)", [SPOTS, CHANGED, SPOTS_NEEDED]
    )
    box = await page.locator("#frame").bounding_box()
    await page.mouse.click(box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"])
    # The mask, or the page saying why not (a cooldown, a limit, an error): stop then.
    await page.wait_for_function(
        "() => window.__benchProbe.result || document.getElementById('status')"
        ".classList.contains('error')",
        timeout=WAIT * 1000,
    )
    result = await page.evaluate("window.__benchProbe.result")
    if not result:
        status = await page.inner_text("#status")
        raise RuntimeError(f"no mask on the page after the click: {status}")
    return dict(result)


def kling_share(
    records: list[Any], session: str, start: float, end: float, frame: int
) -> tuple[float, int]:
    """Kling's time for the click made on `frame` between `start` and `end` (wall clock).

    The page's mark request waits for its Kling call, so the whole call is on the click's path:
    its full duration counts, and the clock offset only has to be good enough to find it."""
    slack = 0.5
    mine = [
        r
        for r in records
        if r.endpoint in SELECTION_ENDPOINTS
        and r.session_id == session
        and r.frame_index == frame
        and r.started >= start - slack
        and r.ended <= end + slack
    ]
    adds = sum(1 for r in mine if r.endpoint == "add-selection")
    spans = [(r.started, r.ended) for r in mine]
    return (
        covered(spans, min(s for s, _ in spans), max(e for _, e in spans)) if spans else 0.0,
        adds,
    )


async def clock_offset(page: Any) -> float:
    """Page wall clock (timeOrigin + now) minus this process's, seconds: the best bracketed
    reading of three (the shortest round trip)."""
    readings = []
    for _ in range(3):
        before = time.time()
        page_now = float(await page.evaluate("performance.timeOrigin + performance.now()"))
        after = time.time()
        readings.append((after - before, page_now / 1000 - (before + after) / 2))
    return min(readings)[1]


async def start_bot(work: Path, twin: DiscordTwin, emulator: KlingEmulator, port: int) -> Any:
    config = write_run_config(work, twin, emulator, log_level="WARNING")
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


async def main_async(args: argparse.Namespace) -> None:
    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-web-picker-"))
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


def report(
    clicks: list[Click],
    offsets: list[float],
    loads: list[str],
    twin: DiscordTwin,
    args: argparse.Namespace,
) -> None:
    gaps = []
    for member in range(args.members):
        times = [c.clicked_at for c in clicks if c.member == member]
        gaps += [b - a for a, b in itertools.pairwise(times)]
    print(
        f"web picker: {len(clicks)} clicks by {args.members} members taking turns (each "
        f"member's page open all along), Kling selection latency 1-3 s"
    )
    print(
        f"least gap between one member's clicks: {min(gaps, default=0):.1f} s (cooldown: 4 "
        f"at once, then one every 2 s), page clock - bench clock: "
        f"{min(offsets) * 1000:+.1f} to {max(offsets) * 1000:+.1f} ms (measured before each "
        f"click)"
    )
    print(
        f"load average (1, 5, 15 min) at start, before the clicks, after: {' | '.join(loads)} "
        f"({os.cpu_count()} cores)"
    )
    print(f"{'step':<44}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    rows = [
        ("click -> mask visible on the page", [c.total for c in clicks]),
        ("  of which Kling", [c.kling for c in clicks]),
        ("  of which the bot", [c.bot for c in clicks]),
        *((f"    {part}", [c.parts[part] for c in clicks]) for part in PARTS),
        ("click -> frame and masks drawn", [c.drawn for c in clicks]),
        ("bot CPU time per click (all it causes)", [c.cpu for c in clicks]),
    ]
    for name, values in rows:
        print(
            f"{name:<44}{len(values):>5}{percentile(values, 0.5) * 1000:>10.1f}"
            f"{percentile(values, 0.99) * 1000:>10.1f}{max(values) * 1000:>10.1f}"
        )
    print(
        f"mask seen when {SPOTS_NEEDED} of {len(SPOTS)} spots over the square changed by more "
        f"than {CHANGED:g} (sum over R, G, B); the deciding change was "
        f"{min(c.change for c in clicks):.0f} at least"
    )
    print(
        f"requests for masks or frames after a click (a second round trip): "
        f"{sum(c.others for c in clicks)} in {len(clicks)} clicks"
    )
    bot_p99 = percentile([c.bot for c in clicks], 0.99)
    print(
        f"goal: the bot's share p99 <= {GOAL_BOT_P99 * 1000:.0f} ms: "
        f"{'MET' if bot_p99 <= GOAL_BOT_P99 else 'NOT MET'} ({bot_p99 * 1000:.1f} ms)"
    )
    print(f"Discord rules broken: {len(twin.violations)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
