"""Every click on the bot's components gets an answer, also when nothing is listening any more.

discord.py hands a component click to a live view or a dynamic item, and a form submit to a
live modal; a click that none of them takes (a confirmation card already submitted, a view that
timed out, any plain view after a restart, an old copy of an edited message) is dropped silently
and the member sees "This interaction failed". :func:`note_unheard` decides, at the moment
discord.py has just dispatched the interaction (nothing has run yet, so no view can have stopped
in between), whether anything took it; :func:`answer_unheard` then says why nothing happens:
"already submitted", "this card has expired"...

The decision reads discord.py's view store (2.7: ``ViewStore._views``, ``_dynamic_items`` and
``_modals``, the same lookups ``dispatch_view`` and ``dispatch_modal`` make). If a later
discord.py changes that store, :func:`note_unheard` notes nothing and clicks behave as before;
tests/cogs/test_stale_clicks.py pins it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from typing import Any

import discord

from bot.i18n import Msg, Text
from cogs.core.replies import send_reply

log = logging.getLogger(__name__)

UNHEARD = "kling.unheard"  # key in Interaction.extras
CONFIRM_PREFIX = "kling:c:"  # confirmation cards: kling:c:<card>:<submit|cancel>
ADMIN_PREFIX = "kling-admin:"
MODAL_PREFIX = "kling:m:"
_REMEMBERED_CARDS = 1024

CARD_EXPIRED = Msg(
    "This confirmation card has expired; nothing was sent to Kling. Run the "
    "command again to get a new one."
)
PANEL_CLOSED = Msg("This settings panel has closed. Open it again with `/kling-admin settings`.")
FORM_EXPIRED = Msg("This form has expired; nothing was changed. Open it again from the board.")
BUTTONS_EXPIRED = Msg("These buttons have expired; nothing was changed. Run the command again.")


class FinishedCards:
    """What happened to the confirmation cards that were answered: card id -> what to tell a
    click on an old copy. One per bot (`KlingBot.finished_cards`), in memory (a few hundred bytes
    each, the newest kept): after a restart a card just says it expired."""

    def __init__(self, size: int = _REMEMBERED_CARDS) -> None:
        self.size = size
        self._answers: OrderedDict[str, Text] = OrderedDict()

    def note(self, card: str, answer: Text) -> None:
        self._answers[card] = answer
        self._answers.move_to_end(card)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)

    def get(self, card: str) -> Text | None:
        return self._answers.get(card)


def finished_cards(client: discord.Client | Any) -> FinishedCards:
    cards = getattr(client, "finished_cards", None)
    if not isinstance(cards, FinishedCards):
        raise RuntimeError("this bot keeps no record of answered confirmation cards")
    return cards


def card_finished(client: discord.Client | Any, card: str, answer: Text) -> None:
    """Remember what became of confirmation card `card` (its buttons' ids carry it)."""
    finished_cards(client).note(card, answer)


def _view_store(client: discord.Client) -> Any:
    return client._connection._view_store  # private: see the module docstring


def has_listener(client: discord.Client, interaction: discord.Interaction) -> bool:
    """Whether discord.py hands this click or form submit to a live view, modal or dynamic item
    (the lookups of ``ViewStore.dispatch_view`` / ``dispatch_modal``). Other interactions: True."""
    data: Any = interaction.data or {}
    custom_id = str(data.get("custom_id", ""))
    store = _view_store(client)
    if interaction.type is discord.InteractionType.modal_submit:
        return custom_id in store._modals
    if interaction.type is not discord.InteractionType.component:
        return True
    if any(pattern.fullmatch(custom_id) for pattern in store._dynamic_items):
        return True  # our dynamic items answer every click they are given
    key = (int(data.get("component_type", 0)), custom_id)
    message_id = interaction.message.id if interaction.message is not None else None
    for entity in (message_id, None) if message_id is not None else (None,):
        item = store._views.get(entity, {}).get(key)
        if item is not None and item.view is not None and not item.view.is_finished():
            return True
    return False


def note_unheard(client: discord.Client, interaction: discord.Interaction) -> None:
    """Mark `interaction` when no view, modal or dynamic item took it. Call this right where
    discord.py dispatches the ``interaction`` event, before any task has run."""
    try:
        heard = has_listener(client, interaction)
    except (AttributeError, TypeError):  # a discord.py whose view store looks different
        log.debug("cannot read discord.py's view store; unheard clicks stay unanswered")
        return
    if not heard:
        interaction.extras[UNHEARD] = True


def why_unheard(interaction: discord.Interaction) -> Text:
    """What to tell the member whose click or form nothing listens to any more."""
    data: Any = interaction.data or {}
    custom_id = str(data.get("custom_id", ""))
    if interaction.type is discord.InteractionType.modal_submit:
        return FORM_EXPIRED if custom_id.startswith(MODAL_PREFIX) else BUTTONS_EXPIRED
    if custom_id.startswith(CONFIRM_PREFIX):
        card = custom_id[len(CONFIRM_PREFIX) :].partition(":")[0]
        return finished_cards(interaction.client).get(card) or CARD_EXPIRED
    if custom_id.startswith(ADMIN_PREFIX):
        return PANEL_CLOSED
    return BUTTONS_EXPIRED


async def answer_unheard(interaction: discord.Interaction) -> None:
    """Answer an interaction :func:`note_unheard` marked (privately), unless something did."""
    if not interaction.extras.get(UNHEARD) or interaction.response.is_done():
        return
    data: Any = interaction.data or {}
    log.info(
        "interaction %s: nothing listens to %r any more; telling the member",
        interaction.id,
        str(data.get("custom_id", ""))[:100],
    )
    # Something may have answered after all: then there is nothing more to say.
    with contextlib.suppress(discord.InteractionResponded):
        await send_reply(interaction, why_unheard(interaction))
