"""`/kling-admin settings` and `/kling-admin usage`: for members with Manage Server only.

Discord hides the group from other members (``default_permissions``), and each command checks
the permission again in code, because a server can override default permissions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.storage import GuildUsage, Store, UsageCounts
from cogs.access import NOT_AN_ADMIN, can_manage_server
from cogs.admin_panel import SettingsPanel
from cogs.replies import send_reply

TOP_MEMBERS = 10


def _store(client: discord.Client | Any) -> Store:
    store = getattr(client, "store", None)
    if store is None:
        raise RuntimeError("the database is not open")
    return store


def format_units(units: float) -> str:
    return f"{units:.0f}" if float(units).is_integer() else f"{units:.2f}".rstrip("0")


def usage_line(usage: UsageCounts, period: str) -> str:
    """"3 jobs · 12.5 units" for ``period`` "today" or "month"."""
    if period == "today":
        jobs, units = usage.jobs_today, usage.units_today
    else:
        jobs, units = usage.jobs_month, usage.units_month
    return f"{jobs} {'job' if jobs == 1 else 'jobs'} · {format_units(units)} units"


def usage_embed(usage: GuildUsage, *, now: float, top: int = TOP_MEMBERS) -> discord.Embed:
    """The server's totals and its busiest members, today and this month (UTC)."""
    month = datetime.fromtimestamp(now, tz=UTC).strftime("%B %Y")
    embed = discord.Embed(
        title="Kling usage on this server",
        colour=discord.Colour.blurple(),
        description=(
            "Jobs Kling accepted, and the units Kling reported for them (units appear once a"
            " job finishes). Days and months are in UTC."
        ),
    )
    embed.add_field(name="Today", value=usage_line(usage.total, "today"))
    embed.add_field(name=f"This month ({month})", value=usage_line(usage.total, "month"))
    if usage.members:
        lines = [
            f"{rank}. <@{m.user_id}>: today {usage_line(m.usage, 'today')};"
            f" month {usage_line(m.usage, 'month')}"
            for rank, m in enumerate(usage.members[:top], start=1)
        ]
        more = len(usage.members) - top
        if more > 0:
            lines.append(f"…and {more} more {'member' if more == 1 else 'members'}.")
        embed.add_field(name="Top members this month", value="\n".join(lines), inline=False)
    else:
        embed.add_field(name="Members", value="No jobs yet this month.", inline=False)
    return embed


def member_usage_embed(user: discord.abc.User, usage: UsageCounts, *,
                       now: float) -> discord.Embed:
    month = datetime.fromtimestamp(now, tz=UTC).strftime("%B %Y")
    embed = discord.Embed(title=f"Kling usage of {user.display_name}",
                          colour=discord.Colour.blurple(),
                          description="Jobs Kling accepted and the units it reported (UTC).")
    embed.add_field(name="Today", value=usage_line(usage, "today"))
    embed.add_field(name=f"This month ({month})", value=usage_line(usage, "month"))
    return embed


class AdminCog(commands.Cog):
    admin = app_commands.Group(
        name="kling-admin",
        description="Kling bot settings and usage for server managers",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @admin.command(name="settings", description="View and change the Kling bot's settings")
    async def settings(self, interaction: discord.Interaction) -> None:
        if not can_manage_server(interaction):
            await send_reply(interaction, NOT_AN_ADMIN)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None  # guild_only
        store = _store(interaction.client)
        current = await store.get_settings(interaction.guild_id)
        panel = SettingsPanel(store, current, owner_id=interaction.user.id)
        panel.last_interaction = interaction
        await interaction.edit_original_response(view=panel)

    @admin.command(name="usage", description="Jobs and credits spent, today and this month")
    @app_commands.describe(user="Show one member's usage instead of the whole server's")
    async def usage(self, interaction: discord.Interaction,
                    user: discord.Member | None = None) -> None:
        if not can_manage_server(interaction):
            await send_reply(interaction, NOT_AN_ADMIN)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        store = _store(interaction.client)
        now = store.now()
        if user is None:
            embed = usage_embed(await store.guild_usage(interaction.guild_id, now=now), now=now)
        else:
            counts = await store.member_usage(interaction.guild_id, user.id, now=now)
            embed = member_usage_embed(user, counts, now=now)
        await interaction.edit_original_response(
            embed=embed, allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AdminCog(bot))
