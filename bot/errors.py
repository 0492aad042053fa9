"""The one base class for problems a user can cause or meet, with a message for them.

Every layer (Kling client, media checks, points parser, storage) raises errors that carry a
`user_message`; the Discord layer shows that sentence and nothing else. Anything without one is
unexpected: it is logged with a short id, and the user is shown that id.
"""

from __future__ import annotations

import secrets


class UserFacingError(Exception):
    """An error whose message is written for the person who caused or met it."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def user_message_for(error: BaseException) -> str | None:
    """The sentence to show a user for `error`, or None when the error is unexpected."""
    message = getattr(error, "user_message", None)
    if isinstance(message, str) and message:
        return message
    if isinstance(error, ValueError) and type(error).__module__.startswith("bot."):
        # Parsers in bot/ (points, masks, media) raise ValueError subclasses written for users.
        return str(error)
    return None


def new_error_id() -> str:
    """A short id a user can quote and an operator can grep for in the logs."""
    return secrets.token_hex(4)
