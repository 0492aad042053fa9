"""The jobs feature: `/kling remove | swap | add` (paid edits), `/kling jobs`, and the
restart-proof **Edit this result** button under delivered results.

The runner's Discord side (`DiscordDeliverer`, `JobCards`) belongs to the bot, not to this cog:
jobs keep running and delivering while the extension reloads.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from cogs.core.kling_group import KlingSubcommands
from cogs.jobs.delivery import EditResultButton
from cogs.jobs.jobs_list import show_jobs
from cogs.jobs.submit import SubmitCommands


class JobsCog(SubmitCommands, KlingSubcommands):
    @app_commands.command(
        name="jobs", description="Recent jobs in this server, with status and links"
    )
    @app_commands.describe(user="Only this member's jobs")
    async def jobs(
        self, interaction: discord.Interaction, user: discord.Member | None = None
    ) -> None:
        await show_jobs(interaction, user)

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.add_dynamic_items(EditResultButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(EditResultButton)
        await super().cog_unload()


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(JobsCog(bot))
