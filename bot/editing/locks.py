"""Per-session locks: a session's Kling calls go one at a time, in the order asked, and its board
message is edited by one caller at a time.

Only work that calls Kling (mark, undo, clear, preview, submit) takes a session's lock: Kling's
selection is one state per session, so two calls must never interleave. Moving the board's frame
calls nothing and takes no lock (the frame is one atomic write), so a member paging through the
video is never queued behind a mark waiting for Kling. asyncio.Lock wakes its waiters first in,
first out, so queued calls keep the order in which members asked.

The board lock (`board`) is held only while the board message is edited, never while Kling is
asked anything. Both registries belong to the editing service of one running bot, so two bots (or
two tests) in one process never share a lock.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.editing.views import BoardView


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


class BoardLock(asyncio.Lock):
    """A session's board lock, with the drawing last put on the board message: an edit always
    shows the state after the operation it follows, so two members acting at once never leave an
    older board on top of a newer one."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: BoardView | None = None


class SessionLocks:
    """Hands out the gate and the board lock of a session id; each lives as long as someone
    holds or waits on it.

    A weak mapping keeps the registry from growing with every session ever opened: once no
    coroutine references a session's gate, the entry disappears, and the next operation on that
    session gets a fresh (free) gate, which is equivalent: nobody is left to compare its moves.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[int, SessionGate] = weakref.WeakValueDictionary()
        self._boards: weakref.WeakValueDictionary[int, BoardLock] = weakref.WeakValueDictionary()

    def for_session(self, session_id: int) -> SessionGate:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = SessionGate()
            self._locks[session_id] = lock
        return lock

    def board(self, session_id: int) -> BoardLock:
        """The session's board lock. Take it *before* the change whose board you will publish:
        holding a reference keeps the record of what is shown while your drawing is on its way."""
        lock = self._boards.get(session_id)
        if lock is None:
            lock = self._boards[session_id] = BoardLock()
        return lock

    def frame_moved(self, session_id: int) -> None:
        """Count a move of the board, for the marks and undos of this session in progress."""
        gate = self._locks.get(session_id)
        if gate is not None:
            gate.moves += 1

    def __len__(self) -> int:
        return len(self._locks)
