"""Fault injection: latency, error codes, dropped connections and malformed bodies on demand.

A rule matches an endpoint name (see `ENDPOINTS`, or "*" for every API endpoint) and counts the
calls made to it *after the rule was added*: `nth=2` fires on the second such call. `times`
is how many calls fire from then on (None: every call).

Kinds: error (a business code with its HTTP status), drop (close the connection unanswered),
malformed (HTML page or cut-off JSON), latency (delay, then answer normally), stall (hold the call
until `release()`, then answer normally) and reject (code 0 but a non-zero `data.status`). With
`after_handler=True` the request is processed normally first and only the reply is replaced, which
imitates "the task was created but the answer was lost".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.kling.emulator.envelope import error_response, http_status_for, invalid, ok

ENDPOINTS = (
    "init-selection",
    "add-selection",
    "delete-selection",
    "clear-selection",
    "preview-selection",
    "multi-elements:create",
    "multi-elements:get",
    "multi-elements:list",
    "multi-image2video:create",
    "multi-image2video:get",
    "multi-image2video:list",
    "files",
)
FaultKind = Literal["error", "drop", "malformed", "latency", "stall", "reject"]
MalformedBody = Literal["html", "truncated_json"]
_rule_ids = itertools.count(1)
# Kept call records: enough for a load run, bounded for an emulator left running for days.
MAX_RECORDS = 50_000


@dataclass(frozen=True)
class CallRecord:
    """One API call as the emulator handled it: when it arrived and when its handling ended
    (wall-clock unix time, comparable across processes on one machine), and what selection it
    was about. Latency and stalls are inside the interval: they are Kling's time."""

    endpoint: str
    started: float
    ended: float
    session_id: str | None = None
    frame_index: int | None = None
    points: tuple[tuple[float, float], ...] = ()

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class FaultRule:
    kind: FaultKind
    endpoint: str = "*"
    nth: int | None = 1
    times: int | None = 1
    code: int | None = None
    status: int | None = None
    message: str | None = None
    body: MalformedBody = "html"
    seconds: float = 0.0
    max_seconds: float | None = None
    after_handler: bool = False
    rule_id: int = field(default_factory=lambda: next(_rule_ids))
    seen: int = 0
    fired: int = 0

    def matches(self, endpoint: str) -> bool:
        return self.endpoint == endpoint or (self.endpoint == "*" and endpoint != "files")

    def consider(self) -> bool:
        """Count one call; say whether this call triggers the rule."""
        self.seen += 1
        if self.nth is not None and self.seen < self.nth:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


class FaultInjector:
    """The fault rules of one emulator plus a count of calls per endpoint."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.calls: Counter[str] = Counter()
        # Calls whose handling has ended (answered, dropped or failed), even when the caller had
        # already given up: how a test knows a late request has done all it was going to do.
        self.finished: Counter[str] = Counter()
        self.held = 0
        # Every call, oldest first (bounded by MAX_RECORDS).
        self.records: deque[CallRecord] = deque(maxlen=MAX_RECORDS)
        self._release = asyncio.Event()
        self._progress = asyncio.Event()

    def add(self, rule: FaultRule) -> FaultRule:
        if rule.endpoint != "*" and rule.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {rule.endpoint!r}; one of {', '.join(ENDPOINTS)}")
        self.rules.append(rule)
        return rule

    def fail(
        self,
        endpoint: str,
        code: int,
        *,
        nth: int | None = 1,
        times: int | None = 1,
        status: int | None = None,
        message: str | None = None,
        after_handler: bool = False,
    ) -> FaultRule:
        """Answer `code` (with its HTTP status unless `status` is given)."""
        return self.add(
            FaultRule(
                "error",
                endpoint,
                nth,
                times,
                code=code,
                status=status,
                message=message,
                after_handler=after_handler,
            )
        )

    def drop(
        self,
        endpoint: str,
        *,
        nth: int | None = 1,
        times: int | None = 1,
        after_handler: bool = False,
    ) -> FaultRule:
        """Close the connection without replying."""
        return self.add(FaultRule("drop", endpoint, nth, times, after_handler=after_handler))

    def malformed(
        self,
        endpoint: str,
        body: MalformedBody = "html",
        *,
        nth: int | None = 1,
        times: int | None = 1,
        status: int | None = None,
    ) -> FaultRule:
        """Reply with an HTML error page or a cut-off JSON envelope."""
        return self.add(FaultRule("malformed", endpoint, nth, times, body=body, status=status))

    def reject(
        self, endpoint: str, status: int = 1, *, nth: int | None = 1, times: int | None = 1
    ) -> FaultRule:
        """Answer code 0 but `data.status` non-zero: Kling's "recognition failure" for a
        selection call (the selection is left unchanged)."""
        return self.add(FaultRule("reject", endpoint, nth, times, code=status))

    def latency(
        self,
        seconds: float,
        *,
        max_seconds: float | None = None,
        endpoint: str = "*",
        nth: int | None = None,
        times: int | None = None,
    ) -> FaultRule:
        """Delay replies by `seconds` (or a random time up to `max_seconds`)."""
        return self.add(
            FaultRule("latency", endpoint, nth, times, seconds=seconds, max_seconds=max_seconds)
        )

    def stall(self, endpoint: str, *, nth: int | None = 1, times: int | None = 1) -> FaultRule:
        """Hold replies until `release()` (or `clear()`), then answer normally: a Kling that
        hangs for exactly as long as a test needs, however slow or busy the machine is."""
        return self.add(FaultRule("stall", endpoint, nth, times))

    def release(self) -> None:
        """Let every call held by a stall so far go on."""
        self._release.set()
        self._release = asyncio.Event()

    async def holding(self, count: int = 1) -> None:
        """Wait until at least `count` calls are held by stalls."""
        while self.held < count:
            await self._progress.wait()

    async def settled(self, endpoint: str | None = None) -> None:
        """Wait until no call to `endpoint` (or to any endpoint) is being handled."""
        while any(
            self.calls[name] > self.finished[name]
            for name in ([endpoint] if endpoint else list(self.calls))
        ):
            await self._progress.wait()

    def _changed(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    def clear(self) -> None:
        self.rules.clear()
        self.release()

    def describe(self) -> dict[str, Any]:
        return {"rules": [asdict(rule) for rule in self.rules], "calls": dict(self.calls)}

    async def apply(
        self, request: web.Request, endpoint: str, handler: Handler
    ) -> web.StreamResponse:
        self.calls[endpoint] += 1
        started = time.time()
        body: bytes = b""
        try:
            if endpoint.endswith("-selection"):
                # Read (and cache for the handler) up front: the record names the selection
                # even when a fault drops the connection before any handler ran.
                body = await request.read()
            return await self._apply(request, endpoint, handler)
        finally:
            self.records.append(_record(endpoint, started, body))
            self.finished[endpoint] += 1
            self._changed()

    async def _apply(
        self, request: web.Request, endpoint: str, handler: Handler
    ) -> web.StreamResponse:
        firing = [rule for rule in self.rules if rule.matches(endpoint) and rule.consider()]
        for rule in firing:
            if rule.kind == "latency":
                low = rule.seconds
                high = rule.max_seconds if rule.max_seconds is not None else low
                await asyncio.sleep(random.uniform(low, high))
        if any(rule.kind == "stall" for rule in firing):
            # Kling hangs after it has the whole request, so a caller giving up meanwhile does
            # not stop the request from being carried out once released.
            await request.read()
            released = self._release
            self.held += 1
            self._changed()
            try:
                await released.wait()
            finally:
                self.held -= 1
        disruptive = next((rule for rule in firing if rule.kind not in ("latency", "stall")), None)
        if disruptive is None:
            return await handler(request)
        if disruptive.after_handler:
            await handler(request)
        if disruptive.kind == "reject":
            return await _rejection(request, disruptive.code or 1)
        return _disrupt(request, disruptive)


def _record(endpoint: str, started: float, raw: bytes) -> CallRecord:
    ended = time.time()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return CallRecord(endpoint, started, ended)
    session_id = body.get("session_id")
    frame = body.get("frame_index")
    points = body.get("points")
    return CallRecord(
        endpoint,
        started,
        ended,
        session_id=str(session_id) if isinstance(session_id, str | int) else None,
        frame_index=frame if isinstance(frame, int) and not isinstance(frame, bool) else None,
        points=tuple(
            (float(p["x"]), float(p["y"]))
            for p in points
            if isinstance(p, dict)
            and isinstance(p.get("x"), int | float)
            and isinstance(p.get("y"), int | float)
        )
        if isinstance(points, list)
        else (),
    )


async def _rejection(request: web.Request, status: int) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = {}
    session_id = body.get("session_id") if isinstance(body, dict) else None
    return ok(
        {
            "status": status,
            "session_id": session_id or "0",
            "final_unit_deduction": "0",
            "res": {"frame_index": 0, "rle_mask_list": []},
        }
    )


def _disrupt(request: web.Request, rule: FaultRule) -> web.StreamResponse:
    if rule.kind == "drop":
        if request.transport is not None:
            request.transport.close()
        # The connection is gone; aiohttp discards whatever is returned here.
        raise asyncio.CancelledError
    if rule.kind == "error":
        code = rule.code or 5000
        return error_response(code, rule.message, rule.status or http_status_for(code))
    if rule.body == "html":
        return web.Response(
            status=rule.status or 502,
            content_type="text/html",
            text="<html><head><title>502 Bad Gateway</title></head>"
            "<body><h1>502 Bad Gateway</h1></body></html>",
        )
    envelope = json.dumps(
        {
            "code": 0,
            "message": "SUCCEED",
            "request_id": "truncated",
            "data": {"task_id": "1", "task_status": "submitted"},
        }
    )
    return web.Response(
        status=rule.status or 200,
        content_type="application/json",
        text=envelope[: len(envelope) // 2],
    )


def rule_from_json(body: Any) -> FaultRule:
    """Build a rule from the JSON body of POST /emulator/faults."""
    if not isinstance(body, dict):
        raise invalid("fault must be a JSON object")
    allowed = {
        "kind",
        "endpoint",
        "nth",
        "times",
        "code",
        "status",
        "message",
        "body",
        "seconds",
        "max_seconds",
        "after_handler",
    }
    unknown = set(body) - allowed
    if unknown:
        raise invalid(f"unknown fault fields: {', '.join(sorted(unknown))}")
    if body.get("kind") not in ("error", "drop", "malformed", "latency", "reject"):
        raise invalid("kind must be one of error, drop, malformed, latency, reject")
    if body.get("body", "html") not in ("html", "truncated_json"):
        raise invalid("body must be html or truncated_json")
    defaults_every_call = body["kind"] == "latency"
    try:
        return FaultRule(
            kind=body["kind"],
            endpoint=str(body.get("endpoint", "*")),
            nth=body.get("nth", None if defaults_every_call else 1),
            times=body.get("times", None if defaults_every_call else 1),
            code=body.get("code"),
            status=body.get("status"),
            message=body.get("message"),
            body=body.get("body", "html"),
            seconds=float(body.get("seconds", 0.0)),
            max_seconds=body.get("max_seconds"),
            after_handler=bool(body.get("after_handler", False)),
        )
    except (TypeError, ValueError) as exc:
        raise invalid(f"bad fault: {exc}") from None
