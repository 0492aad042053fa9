"""The board's modals: **Add points**, and **Remove / Swap / Add** (prompt, mode, reference images).

A modal can only be the first answer to a click, so the session is looked up when the modal is
submitted (after acknowledging), never before showing it; so are the server's settings: the
channel check (`usable_session`) and, for Remove / Swap / Add, the member's submit policy
(`cogs.jobs.confirm.plan_and_confirm`). Add points has the marking cooldown.
"""

from __future__ import annotations

import secrets
from typing import Any

import discord
from discord import ui

from bot.i18n import Msg
from bot.storage import JobKind
from cogs.core.cooldowns import SELECTION, enforce_cooldown
from cogs.core.kling_group import editing_service
from cogs.core.tree import report_error
from cogs.editing.board import board_lock, publish_board, usable_session
from cogs.jobs.confirm import plan_and_confirm

# Modal titles and labels are at most 45 characters in every language (Discord's limit);
# descriptions and placeholders at most 100. The modal is the member's: their language.
ADD_POINTS_TITLE = Msg("Add points", msgctxt="modal")
POINTS_LABEL = Msg("Points")
POINTS_HELP = Msg("Grid cells (C4), 0.42,0.61, 42%,61% or 640,360px; separate with spaces")
FRAME_LABEL = Msg("Frame or time (optional)")
FRAME_HELP = Msg("A frame number such as 12, or a time such as 1.5s; empty: the board's frame")
PROMPT_LABEL = Msg("Prompt")
NEGATIVE_LABEL = Msg("Negative prompt (optional)")
MODE_LABEL = Msg("Mode (optional)")
MODE_HELP = Msg("Empty: the server's default mode (pro costs more; a server may turn it off)")
IMAGES_LABEL = {"swap": Msg("Reference image"), "add": Msg("Reference images (1 or 2)")}
IMAGES_HELP = {
    "swap": Msg("What the object becomes (jpg or png, at least 300 px)"),
    "add": Msg("What to add to the video (jpg or png, at least 300 px)"),
}
EDIT_TITLES = {
    "remove": Msg("Remove the marked object"),
    "swap": Msg("Swap the marked object"),
    "add": Msg("Add an element"),
}
PROMPT_PLACEHOLDER = {
    "remove": Msg("the red car"),
    "swap": Msg("the car with the one in the image"),
    "add": Msg("the dog from the image, walking on the left"),
}
MODE_OPTIONS = (("std", Msg("Standard")), ("pro", Msg("Professional (more credits)")))
KIND_BY_ACTION = {
    "remove": JobKind.EDIT_REMOVAL,
    "swap": JobKind.EDIT_SWAP,
    "add": JobKind.EDIT_ADDITION,
}
IMAGE_LIMITS = {"swap": (1, 1), "add": (1, 2)}

WHERE = "board modal"


def frame_or_time(text: str) -> tuple[int | None, str | None]:
    """`12` is a frame, anything else (`1.5s`) is a time the service parses."""
    text = text.strip()
    if not text:
        return None, None
    if text.isascii() and text.isdigit():  # "²" is a digit to Python, not a frame
        return int(text), None
    return None, text


def form_id(session_id: int, action: str) -> str:
    """A custom id of its own for each open form: discord.py keeps one modal per id, so two
    members with the same form open would otherwise share one, and the first submit would close
    the other's."""
    return f"kling:m:{session_id}:{action}:{secrets.token_hex(4)}"


class AddPointsModal(ui.Modal):
    def __init__(self, session_id: int, locale: object = None) -> None:
        super().__init__(
            title=ADD_POINTS_TITLE.render(locale), custom_id=form_id(session_id, "mark")
        )
        self.session_id = session_id
        self.points: ui.TextInput[Any] = ui.TextInput(
            custom_id="points", max_length=400, placeholder="C4 0.42,0.61"
        )
        self.frame: ui.TextInput[Any] = ui.TextInput(
            custom_id="frame", required=False, max_length=20
        )
        self.add_item(
            ui.Label(
                text=POINTS_LABEL.render(locale),
                description=POINTS_HELP.render(locale),
                component=self.points,
            )
        )
        self.add_item(
            ui.Label(
                text=FRAME_LABEL.render(locale),
                description=FRAME_HELP.render(locale),
                component=self.frame,
            )
        )

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        enforce_cooldown(interaction, SELECTION)
        await interaction.response.defer()
        session = await usable_session(interaction, self.session_id)
        if session is None:
            return
        frame, time_text = frame_or_time(self.frame.value)
        lock = board_lock(interaction.client, session.id)  # before the change: see publish_board
        board = await editing_service(interaction.client).mark(
            session.id,
            points=self.points.value,
            user_id=interaction.user.id,
            frame=frame,
            time_text=time_text,
        )
        await publish_board(
            interaction.client,
            session,
            board,
            lock,
            interaction.message,
            respond=interaction.edit_original_response,
        )

    # discord.py's Modal.on_error drops BaseView.on_error's `item` (a modal has no failing item);
    # mypy checks overrides against BaseView, so the signature Modal itself declares is refused.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report_error(interaction, error, where=WHERE)


class EditModal(ui.Modal):
    """Remove, swap or add: the prompt, the mode and (swap/add) the reference image upload."""

    def __init__(self, session_id: int, action: str, locale: object = None) -> None:
        super().__init__(
            title=EDIT_TITLES[action].render(locale), custom_id=form_id(session_id, action)
        )
        self.session_id = session_id
        self.action = action
        self.prompt: ui.TextInput[Any] = ui.TextInput(
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            max_length=2500,
            placeholder=PROMPT_PLACEHOLDER[action].render(locale),
        )
        self.negative: ui.TextInput[Any] = ui.TextInput(
            custom_id="negative_prompt", required=False, max_length=2500
        )
        self.mode: ui.Select[Any] = ui.Select(
            custom_id="mode",
            required=False,
            min_values=0,
            max_values=1,
            options=[
                discord.SelectOption(label=label.render(locale), value=value)
                for value, label in MODE_OPTIONS
            ],
        )
        self.add_item(ui.Label(text=PROMPT_LABEL.render(locale), component=self.prompt))
        self.images: ui.FileUpload[Any] | None = None
        if action in IMAGE_LIMITS:
            low, high = IMAGE_LIMITS[action]
            self.images = ui.FileUpload(custom_id="images", min_values=low, max_values=high)
            self.add_item(
                ui.Label(
                    text=IMAGES_LABEL[action].render(locale),
                    description=IMAGES_HELP[action].render(locale),
                    component=self.images,
                )
            )
        self.add_item(ui.Label(text=NEGATIVE_LABEL.render(locale), component=self.negative))
        self.add_item(
            ui.Label(
                text=MODE_LABEL.render(locale),
                description=MODE_HELP.render(locale),
                component=self.mode,
            )
        )

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        session = await usable_session(interaction, self.session_id)
        if session is None:
            return
        await plan_and_confirm(
            interaction,
            session_id=session.id,
            kind=KIND_BY_ACTION[self.action],
            prompt=self.prompt.value,
            attachments=list(self.images.values) if self.images else [],
            negative_prompt=self.negative.value or None,
            mode=self.mode.values[0] if self.mode.values else None,
        )

    # discord.py's Modal.on_error drops BaseView.on_error's `item` (a modal has no failing item);
    # mypy checks overrides against BaseView, so the signature Modal itself declares is refused.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report_error(interaction, error, where=WHERE)
