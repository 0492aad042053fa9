"""The one error type the media package raises for inputs it cannot use."""

from __future__ import annotations

from bot.errors import as_text
from bot.i18n import Text


class MediaError(ValueError):
    """A video or image that cannot be read or used; the message is safe to show a user."""

    @property
    def message(self) -> Text:
        """The message as a translatable :class:`~bot.i18n.Text`."""
        return as_text(self.args[0] if self.args else "")
