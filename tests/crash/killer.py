"""SIGKILL the bot subprocess at an exact moment, chosen from what Kling, Discord or SQLite saw.

The test process owns the Kling emulator and the Discord stand-in, so it sees every request the
bot makes. A :class:`KillPoint` names one moment:

- ``emulator``: the n-th call to a Kling endpoint after arming, either *before* the emulator
  handles it (the request was sent, Kling never acted on it) or *after* (Kling acted; the answer
  never reaches the bot).
- ``post``: the stand-in has just stored a result message; the bot never gets the reply, so
  the post exists and the database does not know it.
- ``db``: a job reaches a state in the database (the SQLite file, watched read-only, WAL lets us
  read while the bot writes; or PostgreSQL), then a few random milliseconds pass.

The kill itself is a SIGKILL sent through the process's pidfd from inside the request handler (or
the watcher), so nothing of the bot runs between the moment and its death, and the signal cannot
reach another process that got a recycled pid.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from bot.kling.emulator import KlingEmulator
from tests.database import Database, select
from tests.discord_twin import DiscordTwin, TwinMessage
from tests.discord_twin.model import walk_components
from tests.processes import ChildProcess

Phase = Literal["marking", "submitting", "polling", "delivering"]
Trigger = Literal["emulator", "post", "db"]
RESULT_PREFIX = "kling:result:"


@dataclass(frozen=True)
class KillPoint:
    phase: Phase
    trigger: Trigger
    endpoint: str = ""  # emulator: the FaultInjector endpoint name
    when: Literal["before", "after"] = "after"
    nth: int = 1  # emulator: which matching call after arming
    state: str = ""  # db: the job state to wait for
    delay: float = 0.0  # db: seconds between seeing the state and the kill

    def describe(self) -> str:
        if self.trigger == "emulator":
            return f"{self.phase}: {self.when} Kling handles {self.endpoint} call #{self.nth}"
        if self.trigger == "post":
            return f"{self.phase}: result posted to Discord, reply not yet received"
        return f"{self.phase}: {self.delay * 1000:.0f} ms after a job became {self.state}"


def result_job_id(message: TwinMessage) -> str | None:
    for component in walk_components(message.components):
        custom_id = str(component.get("custom_id") or "")
        if custom_id.startswith(RESULT_PREFIX):
            return custom_id[len(RESULT_PREFIX) :]
    return None


@dataclass
class KlingLedger:
    """What reached the emulator's create endpoints, per external_task_id."""

    sent: Counter[str] = field(default_factory=Counter)  # create requests that arrived
    duplicates: list[str] = field(default_factory=list)  # creates for an id Kling already had


class Killer:
    """Hooks into the emulator and the stand-in; `arm` a point, then `await fired`."""

    def __init__(self, emulator: KlingEmulator, twin: DiscordTwin, db_path: Database) -> None:
        self.emulator = emulator
        self.twin = twin
        self.db_path = db_path
        self.ledger = KlingLedger()
        self.calls: Counter[str] = Counter()
        self.lookups = 0  # GET by external_task_id (our job id), not by Kling's numeric task id
        self.posts: defaultdict[str, int] = defaultdict(int)
        self._point: KillPoint | None = None
        self._proc: ChildProcess | None = None
        self.delivered = False  # the last kill reached a live process
        self._seen = 0
        self._watcher: asyncio.Task[None] | None = None
        self.fired = asyncio.Event()
        self._install()

    # -- arming ----------------------------------------------------------------------------

    def arm(self, point: KillPoint, proc: ChildProcess) -> None:
        self._point, self._proc, self._seen = point, proc, 0
        self.fired, self.delivered = asyncio.Event(), False
        if point.trigger == "db":
            self._watcher = asyncio.create_task(self._watch_db(point))

    def disarm(self) -> None:
        self._point = None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    def _kill(self) -> None:
        if self._proc is not None and not self.fired.is_set():
            self.delivered = self._proc.kill()
            self.fired.set()
            self._point = None

    # -- hooks -----------------------------------------------------------------------------

    def _install(self) -> None:
        faults = self.emulator.faults
        original_apply = faults.apply

        async def apply(
            request: web.Request, endpoint: str, handler: Callable[..., Awaitable[Any]]
        ) -> web.StreamResponse:
            self.calls[endpoint] += 1
            if endpoint.endswith(":get") and not request.match_info.get("task_id", "").isdigit():
                self.lookups += 1
            point = self._point
            hit = (
                point is not None
                and point.trigger == "emulator"
                and self._matches(point, request, endpoint)
            )
            if hit and point is not None and point.when == "before":
                self._kill()
                return web.Response(status=503, text="the bot is gone")
            response = await self._observed(request, endpoint, handler, original_apply)
            if hit:
                self._kill()
            return response

        faults.apply = apply  # type: ignore[method-assign]

        original_create = self.twin.create_message

        def create_message(*args: Any, **kwargs: Any) -> TwinMessage:
            message = original_create(*args, **kwargs)
            job_id = result_job_id(message)
            if job_id is not None:
                self.posts[job_id] += 1
                point = self._point
                if point is not None and point.trigger == "post":
                    self._kill()
            return message

        self.twin.create_message = create_message  # type: ignore[method-assign]

    def _matches(self, point: KillPoint, request: web.Request, endpoint: str) -> bool:
        if endpoint != point.endpoint:
            return False
        if endpoint == "files":  # only result downloads count, not board or preview files
            results = {v.path.name for v in self.emulator.store.videos.values()}
            if request.match_info.get("name") not in results:
                return False
        self._seen += 1
        return self._seen == point.nth

    async def _observed(
        self, request: web.Request, endpoint: str, handler: Any, original_apply: Any
    ) -> web.StreamResponse:
        if not endpoint.endswith(":create"):
            return await original_apply(request, endpoint, handler)
        body = await request.json()  # aiohttp keeps the body; the handler reads it again
        external = str(body.get("external_task_id") or "")
        self.ledger.sent[external] += 1
        if external in self.emulator.store.external_ids:
            self.ledger.duplicates.append(external)
        return await original_apply(request, endpoint, handler)

    async def _watch_db(self, point: KillPoint) -> None:
        while True:
            rows = await asyncio.to_thread(self._jobs_in, point.state)
            if rows:
                await asyncio.sleep(point.delay)
                self._kill()
                return
            await asyncio.sleep(0.005)

    def _jobs_in(self, state: str) -> list[str]:
        found = select(self.db_path, "SELECT id FROM jobs WHERE state = ?", (state,))
        return [row["id"] for row in found]
