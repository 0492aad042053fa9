"""Splitting a member's wait (bench_load.py) into Kling's time, queueing and the bot's own time.

From dispatch to the final answer, an interaction that calls Kling spends time
- in its own Kling calls (the emulator's record of each call: arrival to end),
- waiting for the same session's earlier Kling calls (Kling calls of a session go one at a time):
  the part of [dispatch, start of its own first call] covered by other calls on that session,
- and the rest: the bot's own time (Discord round trips, the database, drawing the board, and any
  wait behind work that is not a Kling call, e.g. a lock held while a board is drawn).
An interaction that needs no Kling call (frame moves, status) has no Kling time and no waiting:
if it waits behind a Kling call, that wait is the bot's doing and counts as the bot's time.
A mark, undo or preview that is refused once its turn comes (nothing to undo, a limit reached)
made no Kling call, but its answer depends on the calls queued before it: the time those calls
cover is its waiting.

Which calls are an interaction's own: a mark's add-selection carries the mark's exact points (the
bench marks unique points); undo and preview calls are given, per session and in order, to the
undos and previews that succeeded, in the order they were dispatched (Kling calls of a session
are made in the order members asked). A preview then downloads its video and cover from Kling's
file links: those downloads are Kling's time too (its CDN). The emulator's record of a file
download names no session, so each preview is given the first two downloads that started after
its preview call ended and before it was answered (the bot fetches them at once, one after the
other), previews taken in the order their calls ended.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SELECTION_ENDPOINTS = (
    "init-selection",
    "add-selection",
    "delete-selection",
    "clear-selection",
    "preview-selection",
)
ENDPOINT_OF_KIND = {"undo": "delete-selection", "preview": "preview-selection"}
PREVIEW_DOWNLOADS = 2  # the video and its cover
# Kinds that take their turn behind the session's Kling calls, refused or not.
QUEUED_KINDS = ("mark", "undo", "preview")


@dataclass
class Split:
    total: float
    kling: float
    waiting: float

    @property
    def bot(self) -> float:
        return max(0.0, self.total - self.kling - self.waiting)


def covered(intervals: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """Length of [start, end] covered by the union of `intervals`."""
    total, reach = 0.0, start
    for low, high in sorted(intervals):
        low, high = max(low, reach), min(high, end)
        if high > low:
            total += high - low
            reach = high
    return total


def same_points(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> bool:
    return len(a) == len(b) and all(
        abs(p[0] - q[0]) < 1e-9 and abs(p[1] - q[1]) < 1e-9 for p, q in zip(a, b, strict=True)
    )


def own_calls(
    items: Sequence[Any], records: Sequence[Any], kling_session: dict[int, str]
) -> dict[int, list[Any]]:
    """index in `items` -> the Kling call records made for it.

    An item has: kind, channel_id, created_at, points (a mark's), succeeded."""
    by_session: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        if record.endpoint in SELECTION_ENDPOINTS and record.session_id:
            by_session[record.session_id].append(record)
    owned: dict[int, list[Any]] = defaultdict(list)
    taken: set[int] = set()
    for index, item in enumerate(items):
        if item.kind == "mark" and item.points:
            session = kling_session.get(item.channel_id, "")
            for record in by_session.get(session, ()):
                if record.endpoint == "add-selection" and same_points(record.points, item.points):
                    owned[index].append(record)
                    taken.add(id(record))
    order = sorted(range(len(items)), key=lambda i: items[i].created_at)
    for index in order:
        item = items[index]
        endpoint = ENDPOINT_OF_KIND.get(item.kind)
        if endpoint is None or not item.succeeded:
            continue
        session = kling_session.get(item.channel_id, "")
        for record in sorted(by_session.get(session, ()), key=lambda r: r.started):
            if (
                record.endpoint == endpoint
                and id(record) not in taken
                and record.started >= item.created_at
            ):
                owned[index].append(record)
                taken.add(id(record))
                break
    _give_downloads(items, records, owned)
    return owned


def _give_downloads(
    items: Sequence[Any], records: Sequence[Any], owned: dict[int, list[Any]]
) -> None:
    downloads = sorted((r for r in records if r.endpoint == "files"), key=lambda r: r.started)
    previews = sorted(
        (
            (calls[0].ended, index)
            for index, calls in owned.items()
            if items[index].kind == "preview" and calls
        ),
    )
    taken: set[int] = set()
    for called_end, index in previews:
        answered = getattr(items[index], "done_at", None) or float("inf")
        mine = [r for r in downloads if id(r) not in taken and called_end <= r.started <= answered][
            :PREVIEW_DOWNLOADS
        ]
        taken.update(id(r) for r in mine)
        owned[index].extend(mine)


def split(item: Any, done_at: float, mine: Sequence[Any], session_calls: Sequence[Any]) -> Split:
    start, total = item.created_at, done_at - item.created_at
    if not mine:
        if item.kind in QUEUED_KINDS:
            # Refused after its turn (nothing to undo, a limit reached): whether there is
            # something to undo depends on the Kling calls queued before it, so it waited for
            # them as a call of its own would have.
            return Split(
                total, 0.0, covered(((r.started, r.ended) for r in session_calls), start, done_at)
            )
        return Split(total, 0.0, 0.0)
    kling = covered(((r.started, r.ended) for r in mine), start, done_at)
    first = min(r.started for r in mine)
    others = [(r.started, r.ended) for r in session_calls if all(r is not m for m in mine)]
    waiting = covered(others, start, first)
    return Split(total, kling, waiting)


def overlapping_calls(records: Sequence[Any]) -> int:
    """Pairs of selection calls on one Kling session that were in progress at the same time."""
    by_session: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        if record.endpoint in SELECTION_ENDPOINTS and record.session_id:
            by_session[record.session_id].append(record)
    overlaps = 0
    for calls in by_session.values():
        calls.sort(key=lambda r: r.started)
        latest_end = float("-inf")
        for record in calls:
            if record.started < latest_end:
                overlaps += 1
            latest_end = max(latest_end, record.ended)
    return overlaps
