"""Live updates for open picker pages (SPEC §10: another member's page shows a change within
2 s, without reloading).

Each session with at least one open page has one watcher. It publishes the session's version
(a digest of its points) to every page of that session: at once when a change is made through
the web picker (``changed``), and otherwise when its poll of the database sees a new version,
which covers changes made in Discord or by another process sharing the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)

VersionOf = Callable[[int], Awaitable[str]]
POLL_SECONDS = 0.5


class LiveHub:
    def __init__(self, version_of: VersionOf, *, poll_s: float = POLL_SECONDS) -> None:
        self._version_of = version_of
        self._poll_s = poll_s
        self._pages: dict[int, set[asyncio.Queue[str]]] = {}
        self._last: dict[int, str] = {}
        self._watchers: dict[int, asyncio.Task[None]] = {}

    @contextlib.asynccontextmanager
    async def listen(self, session_id: int) -> AsyncIterator[asyncio.Queue[str]]:
        """A queue receiving each new version of the session while the page stays open."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=8)
        pages = self._pages.setdefault(session_id, set())
        pages.add(queue)
        if session_id not in self._watchers:
            self._watchers[session_id] = asyncio.create_task(
                self._watch(session_id), name=f"picker watcher {session_id}"
            )
        try:
            yield queue
        finally:
            pages.discard(queue)
            if not pages:
                self._pages.pop(session_id, None)
                watcher = self._watchers.pop(session_id, None)
                if watcher is not None:
                    watcher.cancel()

    async def changed(self, session_id: int) -> None:
        """Tell the session's pages now (after a change made through the picker)."""
        if session_id in self._pages:
            self._publish(session_id, await self._version_of(session_id))

    def _publish(self, session_id: int, version: str) -> None:
        if self._last.get(session_id) == version:
            return
        self._last[session_id] = version
        for queue in list(self._pages.get(session_id, ())):
            if queue.full():  # a page that stopped reading only needs the newest version
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(version)

    async def _watch(self, session_id: int) -> None:
        try:
            self._last[session_id] = await self._version_of(session_id)
            while True:
                await asyncio.sleep(self._poll_s)
                self._publish(session_id, await self._version_of(session_id))
        except asyncio.CancelledError:
            self._last.pop(session_id, None)
            raise
        except Exception:
            log.warning("picker watcher of session %s stopped", session_id, exc_info=True)

    async def close(self) -> None:
        watchers = list(self._watchers.values())
        self._watchers.clear()
        for watcher in watchers:
            watcher.cancel()
        for watcher in watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
