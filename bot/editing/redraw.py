"""One board drawing serves every change waiting for it (SPEC §3: the board follows each change).

When several members' marks finish on one session while its board is being drawn, drawing the
board once per mark would draw states nobody will see again. Each request for a session's board
on a frame takes a ticket; one drawing of that board runs at a time, and a drawing that started
after a ticket was taken shows that ticket's change (it reads the store after it), so the
request takes that drawing's board instead of drawing its own. Every member is still answered,
with the board as it is when they are answered, on the frame their change left it on (a mark
answered "marked frame 12" shows frame 12 even when a later mark moved the board on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.editing.views import BoardView

__all__ = ["BoardRedraws"]


@dataclass
class _Session:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    asked: int = 0  # tickets taken
    drawn: int = 0  # every ticket up to this one is shown by ``board``
    board: BoardView | None = None
    waiting: int = 0  # requests in ``latest`` right now; the entry goes when none is left


class BoardRedraws:
    """Coalesces the redraws of each session's board; ``draw(session_id, frame_index)`` reads
    the store and draws that frame's board."""

    def __init__(self, draw: Callable[[int, int], Awaitable[BoardView]]) -> None:
        self._draw = draw
        self._sessions: dict[tuple[int, int], _Session] = {}
        self.drawings = 0  # boards drawn (not served from another request's drawing)

    def waiting(self, session_id: int, frame_index: int) -> int:
        """How many requests wait for (or draw) this board right now."""
        state = self._sessions.get((session_id, frame_index))
        return state.waiting if state is not None else 0

    async def latest(self, session_id: int, frame_index: int) -> BoardView:
        """The session's board on ``frame_index`` as stored now or later; call it after the
        change is stored."""
        key = (session_id, frame_index)
        state = self._sessions.setdefault(key, _Session())
        state.asked += 1
        ticket = state.asked
        state.waiting += 1
        try:
            async with state.lock:
                if state.drawn >= ticket and state.board is not None:
                    return state.board
                covers = state.asked  # every change asked for so far is stored: all are drawn
                board = await self._draw(session_id, frame_index)
                self.drawings += 1
                state.drawn, state.board = covers, board
                return board
        finally:
            state.waiting -= 1
            if state.waiting == 0:
                # Nobody waits: forget the session, so ended sessions leave nothing behind.
                del self._sessions[key]
