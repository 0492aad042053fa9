"""What KlingClient sends and how it reads what comes back: the selection endpoints' bodies
(checked before any round trip) and the answers' data, each failure a KlingError subclass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bot.kling.errors import MalformedResponseError, SelectionRejectedError
from bot.kling.transport import Envelope

MAX_POINTS_PER_FRAME = 10

T = TypeVar("T")


def read_data(parser: Callable[[Any], T], envelope: Envelope) -> T:
    data = envelope.data
    try:
        if data is None:
            raise ValueError("no data")
        return parser(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MalformedResponseError(
            f"Kling's answer could not be read: {exc}",
            http_status=envelope.http_status,
            request_id=envelope.request_id,
        ) from None


def check_selection_status(status: Any, envelope: Envelope, user_message: str | None) -> None:
    try:
        value = int(status or 0)
    except (TypeError, ValueError):
        value = -1
    if value != 0:
        raise SelectionRejectedError(
            envelope.message or f"selection rejected with status {status}",
            selection_status=value,
            http_status=envelope.http_status,
            request_id=envelope.request_id,
            user_message=user_message,
        )


def require_id(value: str) -> str:
    if not value or not str(value).strip():
        raise ValueError("an id must not be empty")
    return str(value)


def selection_body(
    session_id: str, frame_index: int, points: Sequence[tuple[float, float]]
) -> dict[str, Any]:
    if isinstance(frame_index, bool) or not isinstance(frame_index, int) or frame_index < 0:
        raise ValueError("frame_index must be a non-negative integer")
    if not 1 <= len(points) <= MAX_POINTS_PER_FRAME:
        raise ValueError(f"mark between 1 and {MAX_POINTS_PER_FRAME} points per call")
    marks = []
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the frame; use 0..1 coordinates")
        # Floats go out unchanged: delete-selection must repeat them exactly.
        marks.append({"x": float(x), "y": float(y)})
    return {"session_id": require_id(session_id), "frame_index": frame_index, "points": marks}
