"""A small scriptable stand-in for Kling's HTTP API, served on 127.0.0.1 for the client tests.

It records every request (method, path, query, headers, JSON body), answers with the documented
sample payloads, stores created tasks (enforcing unique ``external_task_id`` at the moment a task
is stored, as Kling does per account), and lets a test queue specific answers per route.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.kling import KlingClient, KlingProvider, Provider, RetryPolicy

EDIT = "/v1/videos/multi-elements"
MULTI = "/v1/videos/multi-image2video"
SESSION_ID = "847570360458960960"
API_KEY = "kling-api-key-0123456789abcdef"
MASK = {
    "object_id": 0,
    "rle_mask": {"size": [2, 3], "counts": "231"},
    "png_mask": {"size": [2, 3], "base64": "iVBORw0KGgo="},
}

SELECTION_ACTIONS = (
    "init-selection",
    "add-selection",
    "delete-selection",
    "clear-selection",
    "preview-selection",
)

Answer = (
    Callable[["Recorded"], web.StreamResponse | Awaitable[web.StreamResponse]]
    | tuple[int, Any]
    | str
)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    request: web.Request | None = field(default=None, repr=False)


def envelope(data: Any, *, code: int = 0, message: str = "SUCCEED") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "req-fake-1", "data": data}


def kling_error(code: int, http_status: int, message: str = "error") -> tuple[int, Any]:
    return http_status, {"code": code, "message": message, "request_id": f"req-{code}"}


@dataclass
class FakeKling:
    prefix: str = ""
    # Which reading of "query by external_task_id" the server understands: "path", "query", both.
    external_lookup: frozenset[str] = frozenset({"path", "query"})
    # First create: held until `release()`, or at most this long (tests set the client's time
    # limit below it, so the client gives up on it whatever the machine's speed).
    first_create_delay: float = 0.0
    # With a delay: store the task before sleeping (True) or only after (False).
    store_before_delay: bool = True
    requests: list[Recorded] = field(default_factory=list)
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {EDIT: [], MULTI: []})
    _scripts: dict[tuple[str, str], deque[Answer]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    # Set once the held first create has been handled (stored or refused as a duplicate).
    first_create_done: asyncio.Event = field(default_factory=asyncio.Event)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _creates_seen: int = 0
    _next_id: int = 867283741759111200

    def script(self, method: str, path: str, *answers: Answer) -> None:
        """Queue answers for a route (path without prefix); when used up, defaults apply."""
        self._scripts[(method, path)].extend(answers)

    def hits(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    def store_then_fail(self, base: str, code: int, http_status: int) -> Answer:
        """An answer that stores the task (as Kling might) and still reports an error."""

        def answer(record: Recorded) -> web.StreamResponse:
            self._store(base, record.body)
            return _json(*kling_error(code, http_status, "internal error"))

        return answer

    def store_then_drop(self, base: str) -> Answer:
        """An answer that stores the task and then drops the connection without replying."""

        def answer(record: Recorded) -> web.StreamResponse:
            self._store(base, record.body)
            assert record.request is not None and record.request.transport is not None
            record.request.transport.close()
            return web.Response(status=200)

        return answer

    def release(self) -> None:
        self._release.set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if self.prefix:
            if not path.startswith(self.prefix):
                return web.Response(status=404, text="<html>no such route</html>")
            path = path[len(self.prefix) :]
        raw = await request.read()
        body: Any = None
        if raw:
            body = json.loads(raw)
        record = Recorded(
            request.method, path, dict(request.query), dict(request.headers), body, request
        )
        self.requests.append(record)
        queue = self._scripts.get((request.method, path))
        if queue:
            response = _render(queue.popleft(), record)
            return await response if inspect.isawaitable(response) else response
        return await self._default(record)

    async def _default(self, r: Recorded) -> web.StreamResponse:
        for base in (EDIT, MULTI):
            if r.method == "POST" and r.path == base:
                return await self._create(base, r)
            if r.method == "GET" and r.path == base:
                return self._list_or_query(base, r)
            if r.method == "GET" and r.path.startswith(base + "/"):
                return self._get(base, r.path[len(base) + 1 :])
        action = r.path.removeprefix(EDIT + "/")
        if r.method == "POST" and action in SELECTION_ACTIONS:
            return _json(200, envelope(selection_data(action)))
        return _json(404, {"code": 1202, "message": "method not found", "request_id": "r"})

    async def _create(self, base: str, r: Recorded) -> web.StreamResponse:
        self._creates_seen += 1
        delayed = self._creates_seen == 1 and self.first_create_delay > 0
        if delayed and not self.store_before_delay:
            await self._pause()
        task = self._store(base, r.body)
        if delayed:
            if self.store_before_delay:
                await self._pause()
            self.first_create_done.set()
        if task is None:
            return _json(*kling_error(1201, 400, "external_task_id already exists"))
        return _json(200, envelope(_created_view(task)))

    async def _pause(self) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), self.first_create_delay)

    def _store(self, base: str, body: dict[str, Any]) -> dict[str, Any] | None:
        external_id = body.get("external_task_id")
        if external_id and any(t["external_task_id"] == external_id for t in self.tasks[base]):
            return None
        self._next_id += 1
        task = {"task_id": str(self._next_id), "external_task_id": external_id, "body": body}
        self.tasks[base].append(task)
        return task

    def _get(self, base: str, key: str) -> web.StreamResponse:
        for task in self.tasks[base]:
            by_path = "path" in self.external_lookup and task["external_task_id"] == key
            if task["task_id"] == key or by_path:
                return _json(200, envelope(task_view(task)))
        return _json(404, {"code": 1203, "message": "task not found", "request_id": "r"})

    def _list_or_query(self, base: str, r: Recorded) -> web.StreamResponse:
        external_id = r.query.get("external_task_id")
        if external_id is not None and "query" in self.external_lookup:
            for task in self.tasks[base]:
                if task["external_task_id"] == external_id:
                    return _json(200, envelope(task_view(task)))
            return _json(404, {"code": 1203, "message": "task not found", "request_id": "r"})
        size = int(r.query.get("pageSize", "30"))
        return _json(200, envelope([task_view(t) for t in reversed(self.tasks[base])][:size]))


def selection_data(action: str) -> dict[str, Any]:
    """The documented sample ``data`` of each selection endpoint."""
    common = {
        "status": 0,
        "session_id": SESSION_ID,
        "final_unit_deduction": "0.5",
        "final_balance_deduction": {"quota": "0.5", "list_price": "0.07"},
    }
    if action == "init-selection":
        return {
            **common,
            "fps": 30.0,
            "original_duration": 5000,
            "width": 1280,
            "height": 720,
            "total_frame": 150,
            "normalized_video": "https://cdn.example/normalized.mp4",
        }
    if action in ("add-selection", "delete-selection"):
        return {**common, "res": {"frame_index": 0, "rle_mask_list": [MASK]}}
    if action == "preview-selection":
        return {
            **common,
            "res": {
                "video": "https://cdn.example/preview.mp4",
                "video_cover": "https://cdn.example/cover.jpg",
                "tracking_output": "https://cdn.example/tracking.json",
            },
        }
    return common


def _created_view(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_id": task["task_id"],
        "task_status": "submitted",
        "task_info": {"external_task_id": task["external_task_id"]},
        "created_at": 1774805076166,
        "updated_at": 1774805076166,
    }


def task_view(task: dict[str, Any]) -> dict[str, Any]:
    """The documented query payload for a finished task."""
    return {
        **_created_view(task),
        "task_status": "succeed",
        "task_status_msg": "",
        "task_result": {
            "videos": [
                {
                    "id": "vid-1",
                    "session_id": SESSION_ID,
                    "url": "https://cdn.example/result.mp4",
                    "watermark_url": "https://cdn.example/result-wm.mp4",
                    "duration": "5.1",
                }
            ]
        },
        "watermark_info": {"enabled": False},
        "final_unit_deduction": "5",
        "updated_at": 1774805176166,
    }


def _json(status: int, payload: Any) -> web.Response:
    return web.json_response(payload, status=status)


def stall(seconds: float, answer: Answer) -> Answer:
    """An answer given only after ``seconds`` (tests set the client's timeout below it)."""

    async def delayed(record: Recorded) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        response = _render(answer, record)
        return await response if inspect.isawaitable(response) else response

    return delayed


def _render(answer: Answer, record: Recorded) -> web.StreamResponse | Awaitable[web.StreamResponse]:
    if callable(answer):
        return answer(record)
    if isinstance(answer, str):
        return web.Response(status=200, text=answer, content_type="text/html")
    status, payload = answer
    if isinstance(payload, str | bytes):
        return web.Response(status=status, body=payload, content_type="text/html")
    return _json(status, payload)


class RecordingSleep:
    """Stands in for asyncio.sleep: records each delay and only yields to the loop."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


@asynccontextmanager
async def open_client(
    fake: FakeKling, provider: Provider | None = None, **options: Any
) -> AsyncIterator[KlingClient]:
    """Serve ``fake`` and yield a client pointed at it (API-key auth unless told otherwise)."""
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("sleep", RecordingSleep())
    options.setdefault("reconcile_delay", 0.0)
    async with serve(fake) as url, aiohttp.ClientSession() as http:
        chosen = provider or KlingProvider(api_key=API_KEY)
        yield KlingClient(http, chosen, base_url=url, **options)


@asynccontextmanager
async def serve(fake: FakeKling) -> AsyncIterator[str]:
    """Run ``fake`` on 127.0.0.1 (free port); yields the base URL."""
    runner = web.AppRunner(fake.app(), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        fake.release()
        await runner.cleanup()
