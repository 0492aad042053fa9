"""The board's buttons: one `DynamicItem` whose custom id carries the session and the action.

`kling:b:<session id>:<action>` is all a click needs: the state comes from the database, so the
buttons of a board keep working after the bot restarts. The editing cog
(`cogs.editing.cog.EditingCog.board_click`, then `cogs.editing.board_clicks`) acts on a click.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import ui

from bot.i18n import Msg
from bot.ids import row_id
from cogs.core.replies import send_reply
from cogs.core.tree import report_error

CUSTOM_ID = "kling:b:{session}:{action}"
TEMPLATE = r"kling:b:(?P<session>[0-9]+):(?P<action>[a-z0-9+-]+)"
EDITING_COG = "EditingCog"

INVALID_BUTTON = Msg(
    "This button is no longer valid; use the board's current buttons or the slash commands."
)

WHERE = "board button"


class BoardButton(ui.DynamicItem[ui.Button[Any]], template=TEMPLATE):
    def __init__(
        self,
        session_id: int | None,
        action: str,
        *,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        disabled: bool = False,
    ) -> None:
        # None: a clicked id whose session number no session can have (see from_custom_id).
        super().__init__(
            ui.Button(
                label=label or action,
                style=style,
                disabled=disabled,
                custom_id=CUSTOM_ID.format(session=session_id or 0, action=action),
            )
        )
        self.session_id = session_id
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> BoardButton:
        # No I/O here: the 3-second clock is running.
        button = item if isinstance(item, ui.Button) else None
        # The id is whatever the click carried: a number SQLite cannot hold names no session.
        return cls(
            row_id(match["session"]),
            match["action"],
            label=(button.label or "") if button else "",
            style=button.style if button else discord.ButtonStyle.secondary,
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            if self.session_id is None:
                await send_reply(interaction, INVALID_BUTTON)
                return
            # The editing cog acts on the click: its handlers draw boards, which show these
            # buttons, so this module cannot import them.
            cog = getattr(interaction.client, "get_cog", lambda name: None)(EDITING_COG)
            if cog is None:
                await send_reply(interaction, INVALID_BUTTON)
                return
            await cog.board_click(interaction, self.session_id, self.action)
        except Exception as exc:  # every failure becomes one short message for the clicker
            await report_error(interaction, exc, where=WHERE)
