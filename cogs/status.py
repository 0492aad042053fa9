"""The Kling cog: every `/kling` subcommand (mixed in from its module), the board's buttons
and the **Edit video with Kling** message context menu.

`setup()` registers the restart-proof board buttons and the context menu along with the cog, so
the bot's extension list needs only `cogs.status`. No command is declared in this module: an
extension module is re-imported when the extension reloads, and a second declaration on the shared
`/kling` group would collide.
"""

from __future__ import annotations

from discord import app_commands
from discord.ext import commands

from cogs.animate import AnimateCommands
from cogs.board_buttons import BoardButton
from cogs.edit import EditCommands, edit_video_context_menu, open_session_from_video
from cogs.kling_group import KLING
from cogs.marking import MarkingCommands
from cogs.picker import PickerButton
from cogs.session_commands import SessionCommands
from cogs.submit import SubmitCommands

CONTEXT_MENU_NAME = "Edit video with Kling"


class KlingCog(EditCommands, MarkingCommands, SubmitCommands, AnimateCommands, SessionCommands,
               commands.Cog):
    kling = KLING

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.context_menu = app_commands.ContextMenu(
            name=CONTEXT_MENU_NAME, callback=edit_video_context_menu)
        self.context_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(BoardButton, PickerButton)
        self.bot.tree.add_command(self.context_menu)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(BoardButton, PickerButton)
        self.bot.tree.remove_command(self.context_menu.name, type=self.context_menu.type)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(KlingCog(bot))


__all__ = ["KlingCog", "open_session_from_video", "setup"]
