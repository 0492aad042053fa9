"""The one base class for problems a user can cause or meet, with a message for them.

Every layer (Kling client, media checks, points parser, storage) raises errors that carry a
`user_message`; the Discord layer shows that sentence and nothing else. Anything without one is
unexpected: it is logged with a short id, and the user is shown that id.

Messages are :class:`bot.i18n.Msg` where they come from this project: ``user_message`` is still
the English ``str`` (for logs and English callers), and ``user_message_for(error, locale)``
renders it in the reader's language.
"""

from __future__ import annotations

import secrets

from bot.i18n import Text, render


class UserFacingError(Exception):
    """An error whose message is written for the person who caused or met it."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message

    @property
    def message(self) -> Text:
        """The message as a translatable :class:`~bot.i18n.Text` (plain text stays as it is)."""
        return as_text(self.user_message)


def as_text(message: str) -> Text:
    return message if isinstance(message, Text) else Text(message)


def user_message_of(error: BaseException) -> str | None:
    """The message (a :class:`~bot.i18n.Text` where translatable) of an expected error."""
    message = getattr(error, "user_message", None)
    if isinstance(message, str) and message:
        return message
    if isinstance(error, ValueError) and type(error).__module__.startswith("bot."):
        # Parsers in bot/ (points, masks, media) raise ValueError subclasses written for users.
        first = error.args[0] if error.args else None
        return first if isinstance(first, Text) else str(error)
    return None


def user_message_for(error: BaseException, locale: object = None) -> str | None:
    """The sentence to show a user for `error`, in `locale` (a Discord locale, a catalogue name,
    or None for English), or None when the error is unexpected."""
    message = user_message_of(error)
    if message is None or locale is None:
        return message
    return render(message, locale)


def new_error_id() -> str:
    """A short id a user can quote and an operator can grep for in the logs."""
    return secrets.token_hex(4)
