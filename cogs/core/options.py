"""Slash command options that name one of our rows, refused at parse time when out of range.

discord.py does not check an integer option against its range, and Discord's own check can be
skipped by a crafted request; a number SQLite cannot hold would end in "Something went wrong".
:data:`PointOption` answers "That point does not exist" before the command runs.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.i18n import Msg, Text
from bot.ids import row_id

NO_SUCH_POINT = Msg("That point does not exist; pick one from the list.")


class OptionRefused(app_commands.AppCommandError):
    """An option value that cannot be used; `user_message` says so (see bot.errors)."""

    def __init__(self, user_message: Text) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class RowIdOption(app_commands.Transformer):
    """An integer option holding one of our row ids (1 … 2**63-1)."""

    def __init__(self, not_found: Text) -> None:
        self.not_found = not_found

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.integer

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> int:
        checked = row_id(value)
        if checked is None:
            raise OptionRefused(self.not_found)
        return checked


PointOption = app_commands.Transform[int, RowIdOption(NO_SUCH_POINT)]
