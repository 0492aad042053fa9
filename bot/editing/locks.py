"""One asyncio lock per editing session, so operations on a session never interleave."""

from __future__ import annotations

import asyncio
import weakref


class SessionLocks:
    """Hands out the lock of a session id; a lock lives as long as someone holds or waits on it.

    A weak mapping keeps the registry from growing with every session ever opened: once no
    coroutine references a session's lock, the entry disappears, and the next operation on that
    session gets a fresh (free) lock, which is equivalent.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def for_session(self, session_id: int) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[session_id] = lock
        return lock

    def __len__(self) -> int:
        return len(self._locks)
