"""Everything the picker page says, as messages translated like the rest of the bot.

The page is rendered in the language carried by its token (the member's Discord locale). The
page's script gets the strings it needs as JSON, already rendered; it never translates itself.
"""

from __future__ import annotations

from bot.editing.submitting import SESSION_ENDED
from bot.i18n import Msg

TITLE = Msg("Kling picker")
HINT = Msg("Click or tap the object you want to mark.")
FRAME_LABEL = Msg("Frame")
UNDO = Msg("Undo last", msgctxt="web picker")
CLEAR = Msg("Clear all", msgctxt="web picker")
REMOVE = Msg("Remove", msgctxt="web picker")
POINTS = Msg("Points")
NO_POINTS = Msg("No points yet: click or tap the frame.")
SAVING = Msg("Marking…")
OFFLINE = Msg("Connection lost; reconnecting…")
CONFIRM_CLEAR = Msg("Remove every point of this session?")
BAD_CLICK = Msg("That click could not be read; reload the page.")
# Shown when the token is missing, forged or expired: the language is unknown, so English.
LINK_INVALID = Msg(
    "This picker link is not valid or has expired. Open a new one with "
    "**Pick points** on the board."
)

# Placeholders: {number} (1-based on its frame), {frame}, {name}.
POINT_LINE = Msg("#{number} on frame {frame} by {name}")
FRAME_OF = Msg("Frame {frame} / {last}")


def page_texts(locale: object) -> dict[str, str]:
    """The strings the page's script shows, in `locale`."""
    return {
        "hint": HINT.render(locale),
        "noPoints": NO_POINTS.render(locale),
        "ended": SESSION_ENDED.render(locale),
        "saving": SAVING.render(locale),
        "offline": OFFLINE.render(locale),
        "confirmClear": CONFIRM_CLEAR.render(locale),
        "remove": REMOVE.render(locale),
        "pointLine": POINT_LINE.render(locale),
        "frameOf": FRAME_OF.render(locale),
    }
