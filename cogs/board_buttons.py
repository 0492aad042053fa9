"""The board's buttons: one `DynamicItem` whose custom id carries the session and the action.

`kling:b:<session id>:<action>` is all a click needs: the state comes from the database, so the
buttons of a board keep working after the bot restarts. A click on the board of a session that
ended (or was replaced) says so and retires that board.

Undo, Clear and Preview call Kling and have a per-member cooldown (checked before acknowledging,
so the refusal is private); frame navigation does not. Every click is refused in a channel where
the bot is disabled; the paid buttons open modals, whose submits check the member's policy.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import ui

from bot.i18n import Msg
from bot.ids import row_id
from bot.storage import Session
from cogs.access import ensure_channel_enabled
from cogs.board import ENDED_TEXT, board_lock, publish_board, show_notice
from cogs.cooldowns import SELECTION, enforce_cooldown
from cogs.kling_group import editing_service, store_of
from cogs.languages import channel_locale, member_locale
from cogs.replies import send_reply
from cogs.tree import report_error

log = logging.getLogger(__name__)

CUSTOM_ID = "kling:b:{session}:{action}"
TEMPLATE = r"kling:b:(?P<session>[0-9]+):(?P<action>[a-z0-9+-]+)"
FRAME_DELTAS = {"f-10": -10, "f-1": -1, "f+1": 1, "f+10": 10}
MODAL_ACTIONS = ("mark", "remove", "swap", "add")

SESSION_ENDED = Msg("This editing session has ended. Start a new one with `/kling edit`.")
OTHER_CHANNEL = Msg("This board belongs to another channel's editing session.")
UNKNOWN_ACTION = Msg("This button is from an older version of the bot; use the slash commands.")
INVALID_BUTTON = Msg("This button is no longer valid; use the board's current buttons or the"
                     " slash commands.")

WHERE = "board button"


class BoardButton(ui.DynamicItem[ui.Button[Any]], template=TEMPLATE):
    def __init__(self, session_id: int | None, action: str, *, label: str = "",
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary,
                 disabled: bool = False) -> None:
        # None: a clicked id whose session number no session can have (see from_custom_id).
        super().__init__(ui.Button(
            label=label or action, style=style, disabled=disabled,
            custom_id=CUSTOM_ID.format(session=session_id or 0, action=action)))
        self.session_id = session_id
        self.action = action

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: ui.Item[Any],
                             match: re.Match[str], /) -> BoardButton:
        # No I/O here: the 3-second clock is running.
        button = item if isinstance(item, ui.Button) else None
        # The id is whatever the click carried: a number SQLite cannot hold names no session.
        return cls(row_id(match["session"]), match["action"],
                   label=(button.label or "") if button else "",
                   style=button.style if button else discord.ButtonStyle.secondary)

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        try:
            if self.session_id is None:
                await send_reply(interaction, INVALID_BUTTON)
                return
            await handle_board_action(interaction, self.session_id, self.action)
        except Exception as exc:  # every failure becomes one short message for the clicker
            await report_error(interaction, exc, where=WHERE)


async def usable_session(interaction: discord.Interaction, session_id: int) -> Session | None:
    """The session behind a board control, or None after telling the user why not (the
    interaction must already be acknowledged). Raises PolicyError in a disabled channel."""
    store = store_of(interaction.client)
    await ensure_channel_enabled(interaction, store)
    session = await store.get_session(session_id)
    if session is None or not session.is_active:
        message = interaction.message
        if message is not None and session is not None and session.board_message_id == message.id:
            await show_notice(message, ENDED_TEXT, channel_locale(interaction))
        await send_reply(interaction, SESSION_ENDED)
        return None
    if session.channel_id != interaction.channel_id or session.guild_id != interaction.guild_id:
        await send_reply(interaction, OTHER_CHANNEL)
        return None
    return session


async def handle_board_action(interaction: discord.Interaction, session_id: int,
                              action: str) -> None:
    if action in MODAL_ACTIONS:
        from cogs.modals import AddPointsModal, EditModal

        locale = member_locale(interaction)
        modal: ui.Modal = (AddPointsModal(session_id, locale) if action == "mark"
                           else EditModal(session_id, action, locale))
        await interaction.response.send_modal(modal)  # a modal must be the first response
        return
    if action == "pick":
        from cogs.picker import open_picker

        await open_picker(interaction, session_id)
        return
    if action == "preview":
        from cogs.marking import run_preview

        await run_preview(interaction, session_id)
        return
    if action in ("undo", "clear"):
        enforce_cooldown(interaction, SELECTION)
    await interaction.response.defer()
    session = await usable_session(interaction, session_id)
    if session is None:
        return
    service = editing_service(interaction.client)
    user_id = interaction.user.id
    lock = board_lock(session_id)  # before the change: see publish_board
    if action in FRAME_DELTAS:
        board = await service.goto_frame(session_id, delta=FRAME_DELTAS[action])
    elif action == "undo":
        board = await service.undo(session_id, user_id=user_id)
    elif action == "clear":
        board = await service.clear(session_id, user_id=user_id)
    else:
        await send_reply(interaction, UNKNOWN_ACTION)
        return
    # Edited through the click's interaction: the member's answer is this edit of the board.
    await publish_board(interaction.client, session, board, lock, interaction.message,
                        respond=interaction.edit_original_response)
