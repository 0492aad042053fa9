"""What a click on a board button does (the buttons themselves: `cogs.editing.board_buttons`).

A click on the board of a session that ended (or was replaced) says so and retires that board
(`cogs.editing.board.usable_session`).

Undo, Clear and Preview call Kling and have a per-member cooldown (checked before acknowledging,
so the refusal is private); frame navigation does not. Every click is refused in a channel where
the bot is disabled; the paid buttons open modals, whose submits check the member's policy.
"""

from __future__ import annotations

import discord
from discord import ui

from bot.i18n import Msg
from cogs.core.cooldowns import SELECTION, enforce_cooldown
from cogs.core.kling_group import editing_service
from cogs.core.languages import member_locale
from cogs.core.replies import send_reply
from cogs.editing.board import board_lock, publish_board, usable_session
from cogs.editing.marking import run_preview
from cogs.editing.modals import AddPointsModal, EditModal
from cogs.editing.picker import open_picker

FRAME_DELTAS = {"f-10": -10, "f-1": -1, "f+1": 1, "f+10": 10}
MODAL_ACTIONS = ("mark", "remove", "swap", "add")

UNKNOWN_ACTION = Msg("This button is from an older version of the bot; use the slash commands.")


async def handle_board_action(
    interaction: discord.Interaction, session_id: int, action: str
) -> None:
    if action in MODAL_ACTIONS:
        locale = member_locale(interaction)
        modal: ui.Modal = (
            AddPointsModal(session_id, locale)
            if action == "mark"
            else EditModal(session_id, action, locale)
        )
        await interaction.response.send_modal(modal)  # a modal must be the first response
        return
    if action == "pick":
        await open_picker(interaction, session_id)
        return
    if action == "preview":
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
    lock = board_lock(interaction.client, session_id)  # before the change: see publish_board
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
    await publish_board(
        interaction.client,
        session,
        board,
        lock,
        interaction.message,
        respond=interaction.edit_original_response,
    )
