"""Keeping a session's Kling selection alive and equal to its stored points.

Kling forgets a selection session after 24 h.

Expiry is detected two ways: our own record (``kling_expires_at``, set to init time + 24 h,
renewed a little early so a session cannot lapse between our check and Kling's), and Kling's
answer 1203 ("does not exist / has expired") to any selection call, which covers clock skew and
sessions Kling dropped early. Either way a new Kling session is started on a fresh URL of the
source video, the stored points are replayed with the exact floats in their original order, the
new masks are stored, and the caller's action is then performed on the new session.

The same renewal repairs a selection that may have drifted from the database. Before a call that
changes Kling's clicks (add, delete, clear) the session is marked ``selection_unsure`` in the
database; the transaction that stores the answer clears the mark. If the bot dies in between, or
the answer is lost after Kling may have acted (timeout or drop after sending, 5xx, unreadable
body), the mark stays, and the next action that calls Kling starts from a new session replaying
the stored points, so Kling's clicks are the stored points again. A failure that proves Kling did
not act (a business code, a rejected selection, a connection never made) clears the mark at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from bot.errors import UserFacingError
from bot.i18n import Msg
from bot.kling import KlingClient, KlingError, NotFoundError, SelectionResult
from bot.kling.retry import create_outcome_unknown
from bot.storage import Point, Session, Store

log = logging.getLogger(__name__)

T = TypeVar("T")

KLING_SESSION_TTL = 24 * 3600.0
# Renew this long before the recorded expiry: a mark must not start on a session that lapses
# while the request is on its way.
RENEW_MARGIN = 120.0
EXPIRED_CODE = 1203

FreshUrl = Callable[[Session], Awaitable[str]]


def masks_of(result: SelectionResult) -> list[dict[str, Any]]:
    """The stored form of Kling's rle_mask_list (the PNG copies are dropped: RLE says it all)."""
    return [{"object_id": m.object_id, "rle_mask": m.rle_mask} for m in result.masks]


def replay_runs(points: Sequence[Point]) -> list[tuple[int, list[tuple[float, float]]]]:
    """Points in their original order, grouped into runs of consecutive points on one frame.

    One add-selection per run keeps the order of every click (Kling assigns objects in click
    order) while sending points added together in one call together again.
    """
    runs: list[tuple[int, list[tuple[float, float]]]] = []
    for point in sorted(points, key=lambda p: p.ordinal):
        if runs and runs[-1][0] == point.frame_index:
            runs[-1][1].append((point.x, point.y))
        else:
            runs.append((point.frame_index, [(point.x, point.y)]))
    return runs


def kling_session_id(session: Session) -> str:
    """The Kling session of a session made live by :class:`SelectionKeeper` (which always
    stores one); missing, it is a bug to report, not a call to send with no session."""
    if not session.kling_session_id:
        raise RuntimeError(f"session {session.id} has no Kling session after it was made live")
    return session.kling_session_id


def is_expiry(error: BaseException) -> bool:
    return isinstance(error, NotFoundError) and error.code == EXPIRED_CODE


def kling_may_have_acted(error: BaseException) -> bool:
    """False only when the failed call certainly left Kling's selection unchanged.

    The rule is the one for creates (a request that may have reached Kling and been processed
    despite the error): sent-then-lost connections, 5xx and unreadable 2xx/5xx bodies are
    unknown; business codes, rejected selections and connections never made are not. Anything
    that is not a Kling error (a cancellation, a bug) is unknown too.
    """
    if isinstance(error, KlingError):
        return create_outcome_unknown(error)
    return True


class SelectionKeeper:
    """Runs selection calls on a session's Kling session, renewing it when it has expired."""

    def __init__(
        self,
        store: Store,
        client: KlingClient,
        clock: Callable[[], float],
        fresh_video_url: FreshUrl | None,
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._fresh_video_url = fresh_video_url
        self.renewals = 0

    def expires_at(self) -> float:
        return self._clock() + KLING_SESSION_TTL

    def looks_expired(self, session: Session) -> bool:
        if not session.kling_session_id or session.kling_expires_at is None:
            return True
        return self._clock() >= session.kling_expires_at - RENEW_MARGIN

    async def live(
        self, session: Session, *, replay: bool = True, keep_unsure: bool = False
    ) -> Session:
        """The session with a Kling session that has not expired by our own record."""
        if self.looks_expired(session):
            return await self.renew(session, replay=replay, keep_unsure=keep_unsure)
        return session

    async def in_step(self, session: Session) -> Session:
        """The session with a live Kling selection holding exactly the stored points (for calls
        that read the selection: preview, the final edit). A session marked unsure is renewed
        and replayed first, which clears the mark."""
        if session.selection_unsure:
            log.info("session %s: selection unsure; renewing before reading it", session.id)
            return await self.renew(session, replay=True)
        return await self.live(session)

    async def change(
        self, session: Session, action: Callable[[str], Awaitable[T]], *, replay: bool = True
    ) -> tuple[Session, T]:
        """Run ``action(kling_session_id)``, a call that changes Kling's clicks, under the mark.

        A session already marked unsure is first renewed and replayed; otherwise the mark is
        written before the call. The caller clears it in the transaction that stores the
        result (``settle_selection=True``). On a failure that proves Kling did not act the mark
        is cleared here; on any other failure it stays for the next action to repair.
        ``replay=False`` (clear) renews an expired session empty instead of replaying into it,
        and keeps the mark on any failure.
        """
        if session.selection_unsure:
            log.info("session %s: selection unsure; renewing before changing it", session.id)
            session = await self.renew(session, replay=replay, keep_unsure=True)
        else:
            await self._store.mark_selection_unsure(session.id)
        try:
            return await self.call(session, action, replay=replay, keep_unsure=True)
        except Exception as error:
            # Only add/delete (replay=True) may be settled by a refusal. clear-selection is
            # repeated by the client after lost answers, so its last refusal does not prove an
            # earlier try did nothing; and an empty renewal lacks the stored points anyway.
            if replay and not kling_may_have_acted(error):
                await self._store.settle_selection(session.id)
            else:
                log.warning(
                    "session %s: the selection call's outcome is unknown (%s); the "
                    "next action renews the Kling session",
                    session.id,
                    type(error).__name__,
                )
            raise

    async def call(
        self,
        session: Session,
        action: Callable[[str], Awaitable[T]],
        *,
        replay: bool = True,
        keep_unsure: bool = False,
    ) -> tuple[Session, T]:
        """Run ``action(kling_session_id)``; on expiry renew (replaying points) and run it again."""
        session = await self.live(session, replay=replay, keep_unsure=keep_unsure)
        try:
            return session, await action(kling_session_id(session))
        except NotFoundError as error:
            if not is_expiry(error):
                raise
            log.info("session %s: Kling session expired early (1203); renewing", session.id)
        session = await self.renew(session, replay=replay, keep_unsure=keep_unsure)
        return session, await action(kling_session_id(session))

    async def renew(
        self, session: Session, *, replay: bool = True, keep_unsure: bool = False
    ) -> Session:
        """Start a new Kling session on the source video and replay the stored points.

        Nothing is stored until the replay has fully succeeded, so a failure leaves the old
        record as it was (and the next action tries again). The new session, its masks and the
        selection-unsure mark are stored in one transaction: the mark is cleared after a replay
        (the new session holds exactly the stored points) unless ``keep_unsure`` (a changing
        call follows), and set when nothing was replayed into it.
        """
        url = await self._video_url(session)
        selection = await self._client.init_selection(video_url=url)
        masks_by_frame: dict[int, list[dict[str, Any]]] = {}
        if replay:
            for frame_index, points in replay_runs(await self._store.list_points(session.id)):
                result = await self._client.add_selection(selection.session_id, frame_index, points)
                masks_by_frame[frame_index] = masks_of(result)
        await self._store.set_kling_session(
            session.id,
            kling_session_id=selection.session_id,
            expires_at=self.expires_at(),
            normalized_video=selection.normalized_video,
            masks_by_frame=masks_by_frame if replay else None,
            selection_unsure=keep_unsure or not replay,
        )
        self.renewals += 1
        log.info(
            "session %s: new Kling session, %d frame(s) replayed", session.id, len(masks_by_frame)
        )
        renewed = await self._store.get_session(session.id)
        if renewed is None:  # sessions are ended, never deleted while in use
            raise RuntimeError(f"session {session.id} vanished while it was being renewed")
        return renewed

    async def _video_url(self, session: Session) -> str:
        if self._fresh_video_url is not None:
            try:
                return await self._fresh_video_url(session)
            except Exception:  # any failure: fall back to the stored link
                log.warning(
                    "session %s: no fresh video URL; using the stored one",
                    session.id,
                    exc_info=True,
                )
        if session.source_url:
            return session.source_url
        raise UserFacingError(
            Msg(
                "Kling's 24-hour editing session ended and the video's link is gone; "
                "start again with `/kling edit`."
            )
        )
