"""The editing feature: `/kling edit | mark | undo | clear | frame | preview | status | end`, the
board's buttons, the zoom picker's buttons and the **Edit video with Kling** message context menu.

`setup()` registers the restart-proof buttons and the context menu along with the cog, so this
extension loads, unloads and reloads as one piece.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from cogs.core.kling_group import KlingSubcommands
from cogs.editing.board_buttons import EDITING_COG, BoardButton
from cogs.editing.board_clicks import handle_board_action
from cogs.editing.edit import EditCommands, edit_video_context_menu, open_session_from_video
from cogs.editing.marking import MarkingCommands
from cogs.editing.picker import PickerButton
from cogs.editing.session_commands import SessionCommands

CONTEXT_MENU_NAME = "Edit video with Kling"


# Named for the board buttons, which find the cog by this name.
class EditingCog(
    EditCommands, MarkingCommands, SessionCommands, KlingSubcommands, name=EDITING_COG
):
    def __init__(self, bot: commands.Bot) -> None:
        super().__init__(bot)
        self.context_menu = app_commands.ContextMenu(
            name=CONTEXT_MENU_NAME, callback=edit_video_context_menu
        )
        self.context_menu.guild_only = True

    async def board_click(
        self, interaction: discord.Interaction, session_id: int, action: str
    ) -> None:
        """A board button was clicked (`cogs.editing.board_buttons.BoardButton`)."""
        await handle_board_action(interaction, session_id, action)

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.add_dynamic_items(BoardButton, PickerButton)
        self.bot.tree.add_command(self.context_menu)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(BoardButton, PickerButton)
        self.bot.tree.remove_command(self.context_menu.name, type=self.context_menu.type)
        await super().cog_unload()


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(EditingCog(bot))


__all__ = ["EditingCog", "open_session_from_video", "setup"]
