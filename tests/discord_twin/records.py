"""Bookkeeping of interactions the stand-in has dispatched."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .model import TwinUserRecord

ACK_DEADLINE_SECONDS = 3.0
TOKEN_LIFETIME_SECONDS = 15 * 60

# Interaction callback types.
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9


@dataclass
class InteractionRecord:
    """One INTERACTION_CREATE and everything the bot did with its token."""

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user: TwinUserRecord
    created_at: float
    payload: dict[str, Any]
    source_message_id: int | None = None
    ack_type: int | None = None
    acked_at: float | None = None
    original_message_id: int | None = None
    ephemeral: bool = False
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    followup_ids: list[int] = field(default_factory=list)
    # Twin-clock times the bot sent a followup or edited a response message (@original, which
    # for a component is the message clicked, or a followup) through this interaction's webhook:
    # the last one is when the member saw the final answer. Like acked_at, each is when the
    # bot's request arrived, before the stand-in read its body: reading a multipart upload takes
    # the stand-in's process many turns of its event loop, which a busy load test makes long,
    # and that time is the stand-in's, not the bot's.
    answered_at: list[float] = field(default_factory=list)
    acked: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_acknowledged(self) -> bool:
        return self.ack_type is not None
