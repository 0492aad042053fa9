"""`/kling-admin settings` and `/kling-admin usage`: for members with Manage Server only.

Discord hides the group from other members (``default_permissions``), and each command checks
the permission again in code, because a server can override default permissions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord
from babel.dates import format_skeleton
from discord import app_commands
from discord.ext import commands

from bot.i18n import Msg, locale_for, translate
from bot.storage import GuildUsage, Store, UsageCounts
from cogs.admin.admin_panel import SettingsPanel
from cogs.core.access import NOT_AN_ADMIN, can_manage_server, guild_id_of
from cogs.core.languages import member_locale
from cogs.core.replies import send_reply

TOP_MEMBERS = 10


def _store(client: discord.Client | Any) -> Store:
    store: Store | None = getattr(client, "store", None)
    if store is None:
        raise RuntimeError("the database is not open")
    return store


def format_units(units: float) -> str:
    return f"{units:.0f}" if float(units).is_integer() else f"{units:.2f}".rstrip("0")


def month_name(now: float, locale: object = None) -> str:
    """ "March 2026" (UTC), in `locale`'s own words ("Maret 2026", "março de 2026")."""
    day = datetime.fromtimestamp(now, tz=UTC).date()
    return format_skeleton("yMMMM", day, locale=locale_for(locale))


def usage_line(usage: UsageCounts, period: str) -> Msg:
    """ "3 jobs · 12.5 units" for ``period`` "today" or "month"."""
    if period == "today":
        jobs, units = usage.jobs_today, usage.units_today
    else:
        jobs, units = usage.jobs_month, usage.units_month
    if jobs == 1:
        return Msg("{jobs} job · {units} units", jobs=jobs, units=format_units(units))
    return Msg("{jobs} jobs · {units} units", jobs=jobs, units=format_units(units))


def usage_embed(
    usage: GuildUsage, *, now: float, top: int = TOP_MEMBERS, locale: object = None
) -> discord.Embed:
    """The server's totals and its busiest members, today and this month (UTC), in `locale`
    (the admin's language: the answer is ephemeral)."""
    month = month_name(now, locale)
    embed = discord.Embed(
        title=translate(locale, "Kling usage on this server"),
        colour=discord.Colour.blurple(),
        description=translate(
            locale,
            "Jobs Kling accepted, and the units Kling reported for them (units appear "
            "once a job finishes). Days and months are in UTC.",
        ),
    )
    embed.add_field(
        name=translate(locale, "Today"), value=usage_line(usage.total, "today").render(locale)
    )
    embed.add_field(
        name=translate(locale, "This month ({month})", month=month),
        value=usage_line(usage.total, "month").render(locale),
    )
    if usage.members:
        lines = [
            Msg(
                "{rank}. <@{user}>: today {today}; month {month}",
                rank=rank,
                user=m.user_id,
                today=usage_line(m.usage, "today"),
                month=usage_line(m.usage, "month"),
            ).render(locale)
            for rank, m in enumerate(usage.members[:top], start=1)
        ]
        more = len(usage.members) - top
        if more == 1:
            lines.append(translate(locale, "…and 1 more member."))
        elif more > 1:
            lines.append(translate(locale, "…and {count} more members.", count=more))
        embed.add_field(
            name=translate(locale, "Top members this month"), value="\n".join(lines), inline=False
        )
    else:
        embed.add_field(
            name=translate(locale, "Members"),
            value=translate(locale, "No jobs yet this month."),
            inline=False,
        )
    return embed


def member_usage_embed(
    user: discord.abc.User, usage: UsageCounts, *, now: float, locale: object = None
) -> discord.Embed:
    month = month_name(now, locale)
    embed = discord.Embed(
        title=translate(locale, "Kling usage of {name}", name=user.display_name),
        colour=discord.Colour.blurple(),
        description=translate(locale, "Jobs Kling accepted and the units it reported (UTC)."),
    )
    embed.add_field(
        name=translate(locale, "Today"), value=usage_line(usage, "today").render(locale)
    )
    embed.add_field(
        name=translate(locale, "This month ({month})", month=month),
        value=usage_line(usage, "month").render(locale),
    )
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
        store = _store(interaction.client)
        current = await store.get_settings(guild_id_of(interaction))
        panel = SettingsPanel(
            store, current, owner_id=interaction.user.id, locale=member_locale(interaction)
        )
        panel.last_interaction = interaction
        await interaction.edit_original_response(view=panel)

    @admin.command(name="usage", description="Jobs and credits spent, today and this month")
    @app_commands.describe(user="Show one member's usage instead of the whole server's")
    async def usage(
        self, interaction: discord.Interaction, user: discord.Member | None = None
    ) -> None:
        if not can_manage_server(interaction):
            await send_reply(interaction, NOT_AN_ADMIN)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = guild_id_of(interaction)
        store = _store(interaction.client)
        now = store.now()
        if user is None:
            embed = usage_embed(
                await store.guild_usage(guild_id, now=now),
                now=now,
                locale=member_locale(interaction),
            )
        else:
            counts = await store.member_usage(guild_id, user.id, now=now)
            embed = member_usage_embed(user, counts, now=now, locale=member_locale(interaction))
        await interaction.edit_original_response(
            embed=embed, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AdminCog(bot))
