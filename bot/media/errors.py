"""The one error type the media package raises for inputs it cannot use."""

from __future__ import annotations


class MediaError(ValueError):
    """A video or image that cannot be read or used; the message is safe to show a user."""
