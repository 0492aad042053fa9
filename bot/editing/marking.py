"""Marking a session's object: adding points, undoing one, clearing, and choosing a point to undo.

A mixin of :class:`bot.editing.service.EditingService` (kept apart to keep modules short); the
public methods are part of the service's contract. Each change takes the session's Kling lock,
and the board is drawn by the service after the lock is let go.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.editing.boards import grid_for, prepare_frame
from bot.editing.locks import SessionLocks
from bot.editing.renewal import SelectionKeeper, masks_of
from bot.editing.submitting import SESSION_ENDED
from bot.editing.views import BoardView
from bot.errors import UserFacingError
from bot.i18n import Capitalised, Msg
from bot.kling import KlingClient
from bot.points import FrameRefError, PointsError, parse_frame_ref, parse_points
from bot.storage import Session, SessionNotActiveError, Store

log = logging.getLogger("bot.editing.service")

MAX_AUTOCOMPLETE = 25


def _user_error(error: PointsError | FrameRefError) -> UserFacingError:
    # The parsers word their messages as clauses ("`Z9` is not a cell ..."); shown alone they
    # start a sentence, in whichever language they are rendered.
    text = error.message
    wrapped = UserFacingError(Capitalised(text) if text else Msg("That input is not valid."))
    wrapped.__cause__ = error
    return wrapped


class Marking:
    store: Store
    client: KlingClient
    media_dir: Path
    locks: SessionLocks
    selections: SelectionKeeper

    async def _active(self, session_id: int) -> Session:
        raise NotImplementedError

    async def _board(self, session_id: int, frame_index: int) -> BoardView:
        raise NotImplementedError

    async def mark_points(
        self,
        session_id: int,
        *,
        points: str,
        user_id: int,
        frame: int | None = None,
        time_text: str | None = None,
    ) -> int:
        """`mark` without drawing the board: the frame marked. The pickers draw their own
        picture of that frame at the same time as the board (`board_after`), rather than after
        it."""
        gate = self.locks.for_session(session_id)
        moves = gate.moves
        async with gate:
            session = await self._active(session_id)
            target = self._frame_ref(session, frame, time_text, default=session.current_frame)
            prepare_frame(session, self.media_dir, target)  # decoded while Kling works
            on_frame = await self.store.list_points(session_id, target)
            try:
                parsed = parse_points(
                    points,
                    grid_for(session),
                    video_width=session.video.width,
                    video_height=session.video.height,
                    existing_count=len(on_frame),
                )
            except PointsError as error:
                raise _user_error(error) from error
            await self.store.check_point_capacity(session_id, target, len(parsed))
            session, result = await self.selections.change(
                session, lambda kling_id: self.client.add_selection(kling_id, target, parsed)
            )
            try:
                await self.store.add_points(
                    session_id,
                    target,
                    parsed,
                    added_by=user_id,
                    masks=masks_of(result),
                    settle_selection=True,
                )
            except BaseException as error:
                # The unsure mark stays, so a next action replays the stored points on a new
                # Kling session; an ended session has no next action, so tidy Kling now.
                await self._take_back(session, target, parsed)
                if isinstance(error, SessionNotActiveError):
                    raise UserFacingError(SESSION_ENDED) from error
                raise
            if gate.moves == moves:
                await self.store.set_current_frame(session_id, target)
        return target

    async def undo(
        self, session_id: int, *, user_id: int, point_id: int | None = None
    ) -> BoardView:
        """delete-selection with the stored floats of `point_id` (default: the last added);
        the board moves to that point's frame unless a member moved it meanwhile."""
        gate = self.locks.for_session(session_id)
        moves = gate.moves
        async with gate:
            session = await self._active(session_id)
            if point_id is None:
                point = await self.store.last_point(session_id)
                if point is None:
                    raise UserFacingError(Msg("There are no points to undo on this session."))
            else:
                point = await self.store.get_point(point_id)
                if point is None or point.session_id != session_id:
                    raise UserFacingError(
                        Msg("That point is not on this session's board any more.")
                    )
            exact = [(point.x, point.y)]
            session, result = await self.selections.change(
                session,
                lambda kling_id: self.client.delete_selection(kling_id, point.frame_index, exact),
            )
            await self.store.delete_point(
                session_id, point.id, masks=masks_of(result), settle_selection=True
            )
            log.info("session %s: user %s undid point %s", session_id, user_id, point.id)
            if gate.moves == moves:
                await self.store.set_current_frame(session_id, point.frame_index)
        return await self._board(session_id, point.frame_index)

    async def clear(self, session_id: int, *, user_id: int) -> BoardView:
        async with self.locks.for_session(session_id):
            session = await self._active(session_id)
            # An expired (or unsure) Kling session is replaced by an empty one: nothing to
            # replay or clear. The renewal stores it marked unsure until the points are gone.
            if session.selection_unsure or self.selections.looks_expired(session):
                await self.selections.renew(session, replay=False)
            else:
                await self.selections.change(session, self.client.clear_selection, replay=False)
            removed = await self.store.clear_points(session_id, settle_selection=True)
            log.info("session %s: user %s cleared %d point(s)", session_id, user_id, removed)
        return await self._board(session_id, session.current_frame)

    async def point_choices(
        self, session_id: int, typed: str, *, locale: object = None
    ) -> list[tuple[str, int]]:
        """Autocomplete for /kling undo: (label such as "#3 on frame 12 at C4 by <name id>",
        point id), at most 25, filtered by `typed`; labels in ``locale`` (the member's)."""
        session = await self.store.get_session(session_id)
        if session is None:
            return []
        grid = grid_for(session)
        points = await self.store.list_points(session_id)
        numbers: dict[int, int] = {}
        counts: dict[int, int] = {}
        for point in points:
            counts[point.frame_index] = counts.get(point.frame_index, 0) + 1
            numbers[point.id] = counts[point.frame_index]
        wanted = typed.strip().lower().lstrip("#")
        choices: list[tuple[str, int]] = []
        for point in reversed(points):  # the latest first: what people usually undo
            cell = grid.cell_name(grid.cell_at(point.x, point.y))
            label = Msg(
                "#{number} on frame {frame} at {cell} ({x:.3f}, {y:.3f}) by user {user}",
                number=numbers[point.id],
                frame=point.frame_index,
                cell=cell,
                x=point.x,
                y=point.y,
                user=point.added_by,
            ).render(locale)
            if wanted and wanted not in label.lower():
                continue
            choices.append((label[:100], point.id))
            if len(choices) >= MAX_AUTOCOMPLETE:
                break
        return choices

    @staticmethod
    def _frame_ref(
        session: Session, frame: int | None, time_text: str | None, *, default: int | None
    ) -> int:
        try:
            return parse_frame_ref(
                frame, time_text, session.video.fps, session.video.total_frame, default=default
            )
        except FrameRefError as error:
            raise _user_error(error) from error

    async def _take_back(
        self, session: Session, frame_index: int, points: list[tuple[float, float]]
    ) -> None:
        if not session.kling_session_id:
            return
        try:
            await asyncio.shield(
                self.client.delete_selection(session.kling_session_id, frame_index, points)
            )
        except Exception:  # the original error matters more; the unsure mark covers the rest
            log.warning(
                "session %s: could not take back unstored clicks", session.id, exc_info=True
            )
