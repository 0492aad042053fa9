"""Per-session Kling locks: a session's Kling calls go one at a time, in the order asked.

Only work that calls Kling (mark, undo, clear, preview, submit) takes a session's lock: Kling's
selection is one state per session, so two calls must never interleave. Moving the board's frame
calls nothing and takes no lock (the frame is one atomic write), so a member paging through the
video is never queued behind a mark waiting for Kling. asyncio.Lock wakes its waiters first in,
first out, so queued calls keep the order in which members asked.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Literal


class SessionGate(asyncio.Lock):
    """A session's Kling lock, plus how many times its board was moved to another frame while
    the gate was alive: a mark compares the count from before its wait with the count after
    Kling answered, and leaves the board where a member moved it meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.moves = 0
        self.waiting = 0  # calls queued behind the one in progress

    async def acquire(self) -> Literal[True]:
        self.waiting += 1
        try:
            return await super().acquire()
        finally:
            self.waiting -= 1


class SessionLocks:
    """Hands out the gate of a session id; a gate lives as long as someone holds or waits on it.

    A weak mapping keeps the registry from growing with every session ever opened: once no
    coroutine references a session's gate, the entry disappears, and the next operation on that
    session gets a fresh (free) gate, which is equivalent: nobody is left to compare its moves.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[int, SessionGate] = (
            weakref.WeakValueDictionary()
        )

    def for_session(self, session_id: int) -> SessionGate:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = SessionGate()
            self._locks[session_id] = lock
        return lock

    def frame_moved(self, session_id: int) -> None:
        """Count a move of the board, for the marks and undos of this session in progress."""
        gate = self._locks.get(session_id)
        if gate is not None:
            gate.moves += 1

    def __len__(self) -> int:
        return len(self._locks)
