"""What the picker's page is told about a session: its frame, size, limits and points (the
``api/state`` answer), and the short version the page watches to know when to ask again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from bot.editing.boards import clamp_frame
from bot.i18n import Msg
from bot.render.board import BOARD_LONG_SIDE, display_size
from bot.storage import MAX_MARKED_FRAMES, MAX_POINTS_PER_FRAME, Point, Session, Store
from bot.web.tokens import PickerToken

# (guild id, user id) -> the member's display name in that server, or None when unknown.
MemberName = Callable[[int, int], str | None]


async def picker_state(
    store: Store, checked: Session, token: PickerToken, member_name: MemberName | None
) -> dict[str, Any]:
    """The state as stored now (``checked`` when the session is gone), for ``token``'s member;
    names from ``member_name``, or "member <id>" in the token's language."""
    stored = await store.get_session(checked.id)
    session = stored or checked
    points = await store.list_points(session.id)
    numbers: dict[int, int] = {}
    listed = []
    for point in points:
        numbers[point.frame_index] = numbers.get(point.frame_index, 0) + 1
        name = member_name(session.guild_id, point.added_by) if member_name else None
        listed.append(
            {
                "id": point.id,
                "number": numbers[point.frame_index],
                "frame": point.frame_index,
                "x": point.x,
                "y": point.y,
                "by": str(point.added_by),
                "mine": point.added_by == token.member_id,
                "name": name or Msg("member {id}", id=point.added_by).render(token.locale),
            }
        )
    width, height = display_size(session.video.width, session.video.height, BOARD_LONG_SIDE)
    return {
        "version": version_of(stored, points),  # from what was just read: no second read
        "active": session.is_active,
        "frame": clamp_frame(session, session.current_frame),
        "totalFrames": session.video.total_frame,
        "fps": session.video.fps,
        "width": width,
        "height": height,
        "points": listed,
        "maxFrames": MAX_MARKED_FRAMES,
        "maxPoints": MAX_POINTS_PER_FRAME,
        "expiresAt": token.expires_at,
    }


def version_of(session: Session | None, points: Sequence[Point]) -> str:
    """A short digest of what the pages show: the session's status and its points."""
    digest = hashlib.sha256(f"{session.status if session else 'gone'}".encode())
    for point in points:
        digest.update(f"|{point.id}:{point.frame_index}".encode())
    return digest.hexdigest()[:16]
