"""Bounds for ids that come from members or from custom ids, checked before any lookup.

SQLite stores integers as signed 64-bit values and raises ``OverflowError`` for anything larger,
which would reach the member as "Something went wrong on our side". Our row ids (sessions,
points) are positive and at most 2**63-1, so a number outside that range cannot name anything:
the callers answer "does not exist" or "this button is no longer valid" instead of looking.
"""

from __future__ import annotations

__all__ = ["ROW_ID_MAX", "row_id"]

ROW_ID_MAX = 2**63 - 1  # SQLite INTEGER PRIMARY KEY
_MAX_DIGITS = len(str(ROW_ID_MAX))


def row_id(value: object) -> int | None:
    """`value` (an int, or a string of ASCII digits) as one of our row ids, or None when it
    cannot be one (zero, negative, too large, not a whole number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS):
            return None
        value = int(value)
    if isinstance(value, int) and 1 <= value <= ROW_ID_MAX:
        return value
    return None
