"""Discord's length limits, and cutting text to fit them without breaking what is kept.

Discord refuses a whole message (HTTP 400) when one part is too long, so a reply that quotes a
6,000-character option would never arrive and the member would watch "thinking…" forever. Every
text the bot sends goes through :func:`fit` (``cogs.core.replies`` applies it to content, embeds and
layout components); error messages quote bad input through :func:`excerpt`.

Lengths are counted in code points, as Discord's API does (Python ``len``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = [
    "BUTTON_LABEL",
    "CONTENT",
    "CUSTOM_ID",
    "ELLIPSIS",
    "EMBED_AUTHOR",
    "EMBED_DESCRIPTION",
    "EMBED_FIELDS",
    "EMBED_FIELD_NAME",
    "EMBED_FIELD_VALUE",
    "EMBED_FOOTER",
    "EMBED_TITLE",
    "EMBED_TOTAL",
    "LAYOUT_TEXT_TOTAL",
    "MODAL_TITLE",
    "PLACEHOLDER",
    "SELECT_OPTION",
    "excerpt",
    "fit",
    "share",
]

CONTENT = 2000  # message content
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_AUTHOR = 256
EMBED_FIELDS = 25
EMBED_TOTAL = 6000  # title + description + field names and values + footer + author, all embeds
BUTTON_LABEL = 80
SELECT_OPTION = 100  # an option's label, value and description each
PLACEHOLDER = 150  # a select menu's placeholder
CUSTOM_ID = 100
MODAL_TITLE = 45
LAYOUT_TEXT_TOTAL = 4000  # every text display of a Components V2 message together

ELLIPSIS = "…"
EXCERPT = 40  # how much of a bad input an error message quotes
# A cut may move back this far to end on a space rather than inside a word.
_WORD_SLACK = 24
# A cut may move back this far to keep a <@mention>, <t:...:R> or <:emoji:id> whole.
_ANGLE_SLACK = 48
_FENCE = "```"
_JOINERS = frozenset({"\u200d", "\u20e3"})  # zero-width joiner, combining keycap


def _glued_to_previous(char: str) -> bool:
    """A character that belongs to the one before it (one visible symbol together)."""
    return (
        unicodedata.combining(char) != 0
        or char in _JOINERS
        or "\ufe00" <= char <= "\ufe0f"  # variation selectors (emoji presentation)
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # tag characters (flag subdivisions)
        or unicodedata.category(char) in ("Mn", "Me")
    )


def _symbol_start(text: str, cut: int) -> int:
    """Move `cut` back so it does not split a visible symbol (base + marks, ZWJ sequences,
    a pair of regional-indicator flags)."""
    while 0 < cut < len(text) and (_glued_to_previous(text[cut]) or text[cut - 1] in _JOINERS):
        cut -= 1
    if 0 < cut < len(text) and _is_regional(text[cut]):
        run = cut
        while run > 0 and _is_regional(text[run - 1]):
            run -= 1
        if (cut - run) % 2:  # the cut would separate the two letters of a flag
            cut -= 1
    return cut


def _is_regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _nicer_cut(text: str, cut: int) -> int:
    """End on a word boundary and outside an unclosed ``<...>`` when that costs little (both
    together never more than a quarter of what is kept)."""
    spare = cut // 4
    head = text[:cut]
    opened = head.rfind("<")
    if opened != -1 and head.rfind(">") < opened and cut - opened <= min(_ANGLE_SLACK, spare):
        spare -= cut - opened
        cut = opened
        head = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        space = max(head.rfind(" "), head.rfind("\n"))
        if space > 0 and cut - space <= min(_WORD_SLACK, spare):
            cut = space
    return cut


def _closer(kept: str) -> str:
    """Markdown to close what the cut left open: a code block, or else an inline code span."""
    if kept.count(_FENCE) % 2:
        return "\n" + _FENCE
    if kept.replace(_FENCE, "").count("`") % 2:
        return "`"
    return ""


def fit(text: str, limit: int) -> str:
    """`text` if it is at most `limit` characters, else its start cut on a safe boundary, with
    an ellipsis and whatever markdown (a code span or block) the cut left open closed again."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    kept = text[: _symbol_start(text, _nicer_cut(text, room))].rstrip()
    result = kept + ELLIPSIS + _closer(kept)
    while len(result) > limit:  # the closing markdown needs room: give up a little more
        kept = kept[: _symbol_start(kept, len(kept) - 1)].rstrip()
        result = kept + ELLIPSIS + _closer(kept)
    return result


def excerpt(text: object, limit: int = EXCERPT) -> str:
    """A short quote of something a member typed, safe inside `backticks` in a message."""
    flat = " ".join(str(text).split()).replace("`", "'")
    return fit(flat, limit)


def share(lengths: Sequence[int], budget: int) -> list[int]:
    """How long each of several texts may be so that together they fit `budget`: short ones
    keep their length, the long ones share what is left equally (the longest are cut most)."""
    if sum(lengths) <= budget:
        return list(lengths)
    caps = [0] * len(lengths)
    remaining = max(budget, 0)
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for done, index in enumerate(order):
        fair = remaining // (len(order) - done)
        caps[index] = min(lengths[index], fair)
        remaining -= caps[index]
    return caps
