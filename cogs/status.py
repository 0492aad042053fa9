"""`/kling status`: what this channel's editing session looks like."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands


class StatusCog(commands.Cog):
    kling = app_commands.Group(name="kling", description="Edit short videos with Kling AI",
                               guild_only=True)

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @kling.command(name="status", description="Show this channel's editing session and its jobs")
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "There is no editing session in this channel. Start one with `/kling edit`.",
            ephemeral=True,
        )


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(StatusCog(bot))
