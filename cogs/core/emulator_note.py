"""The line that tells members an edit comes from the built-in emulator, not from Kling.

With ``[kling] provider = "emulator"`` every board, confirmation card, job card and result says
so, so nobody takes the emulator's imitation for what Kling would have made.
"""

from __future__ import annotations

from bot.i18n import Msg

EMULATOR_NOTE = Msg("-# 🧪 Emulator: not a real Kling edit")


def on_emulator(client: object) -> bool:
    """True when the bot behind `client` sends its jobs to the emulator."""
    kling = getattr(getattr(client, "config", None), "kling", None)
    return getattr(kling, "provider", None) == "emulator"


def with_emulator_note(lines: list[object], emulator: bool, *, at: int = 1) -> list[object]:
    """`lines` with the note inserted at `at` (just under the title) when `emulator`."""
    if emulator:
        lines.insert(at, EMULATOR_NOTE)
    return lines
