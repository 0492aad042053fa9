"""The board messages this bot edited last, by session, so the next edit needs no fetch first.

A slash command that changes a board (``/kling mark``, ``/kling frame``...) has no message in
hand, and editing the board keeps its video attachment, so the message must be known: without
this, every such answer waited for one more Discord round trip (GET the message) before its
edit. An edit returns the message as it now is, which is what the next edit needs. The bot holds
only the ``guilds`` intent and sees no message events, so discord.py's own cache never has it.
"""

from __future__ import annotations

from collections import OrderedDict

import discord

KEPT = 512  # sessions; a Message is a few KiB


class BoardMessages:
    """Most recently edited first out last; a board posted again gets a new id and misses."""

    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._messages: OrderedDict[int, discord.Message] = OrderedDict()

    def get(self, session_id: int, board_message_id: int | None) -> discord.Message | None:
        message = self._messages.get(session_id)
        if message is None or message.id != board_message_id:
            return None
        self._messages.move_to_end(session_id)
        return message

    def remember(self, session_id: int, message: discord.Message) -> None:
        self._messages[session_id] = message
        self._messages.move_to_end(session_id)
        while len(self._messages) > self._size:
            self._messages.popitem(last=False)

    def forget(self, session_id: int) -> None:
        self._messages.pop(session_id, None)


def board_messages(client: discord.Client) -> BoardMessages:
    """The client's cache (KlingBot has one); a client without one gets an empty one each time."""
    found = getattr(client, "board_messages", None)
    return found if isinstance(found, BoardMessages) else BoardMessages()
