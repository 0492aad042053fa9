"""The figures of bench_web_picker.py: each click's time split into Kling's share and the bot's
(step by step), and the printed report with its goal.

Kling's share is the emulator's own record of the selection call the click made, found by
session, frame and time; the bot's share is the rest, split with the page's Resource Timing of
its mark request and the probe's decoding times (bench/web_picker_page.py).
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import dataclass
from typing import Any

from bench.load_report import percentile
from bench.load_split import SELECTION_ENDPOINTS, covered
from bench.web_picker_page import CHANGED, SPOTS, SPOTS_NEEDED
from tests.discord_twin import DiscordTwin

GOAL_BOT_P99 = 0.150


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
