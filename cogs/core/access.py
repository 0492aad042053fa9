"""The Discord facts that `bot.policy` decides on, read from an interaction.

Every paid path checks twice: :func:`ensure_submit_allowed` right after acknowledging (before any
image is downloaded or planned), and :func:`ensure_member_can_submit` again in
`cogs.jobs.confirm.submit_plan` just before the service's submit (a confirmation card can stay open
while settings and usage change). Free steps (starting a session, marking, frames, previews,
status) call :func:`ensure_channel_enabled`. All raise `bot.policy.PolicyError`, whose
`user_message` the error routing shows as it is.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n import Msg
from bot.policy import check_channel_enabled, check_member_can_submit
from bot.storage import GuildSettings, Store

NOT_AN_ADMIN = Msg("Only members with the Manage Server permission can use `/kling-admin`.")


def guild_id_of(interaction: discord.Interaction) -> int:
    """The server an interaction came from.

    The commands are registered for servers only, but Discord can still send one without a
    server (a user-installed app, a DM with the bot): that is answered, like discord.py's own
    `guild_only` check, with "This command works in a server channel".
    """
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


def guild_and_channel(interaction: discord.Interaction) -> tuple[int, int]:
    """The server and channel ids of an interaction (see :func:`guild_id_of`)."""
    if interaction.guild_id is None or interaction.channel_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id, interaction.channel_id


def can_manage_server(interaction: discord.Interaction) -> bool:
    """Manage Server or Administrator, as Discord reports it for this interaction.

    Checked in code on purpose: a server can override the commands' default permissions in its
    integration settings, and then Discord lets anyone run them.
    """
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    if isinstance(interaction.user, discord.Member):
        perms = perms | interaction.user.guild_permissions
    return perms.manage_guild or perms.administrator


def member_role_ids(interaction: discord.Interaction) -> set[int]:
    user = interaction.user
    if not isinstance(user, discord.Member):
        return set()
    # @everyone counts as a role every member holds.
    return {role.id for role in user.roles} | {interaction.guild_id or 0}


def parent_channel_id(interaction: discord.Interaction) -> int | None:
    channel = interaction.channel
    return channel.parent_id if isinstance(channel, discord.Thread) else None


async def ensure_channel_enabled(interaction: discord.Interaction, store: Store) -> GuildSettings:
    """The server's settings, or PolicyError when the bot is disabled in this channel."""
    settings = await store.get_settings(guild_id_of(interaction))
    check_channel_enabled(
        settings, interaction.channel_id or 0, parent_channel_id=parent_channel_id(interaction)
    )
    return settings


async def ensure_member_can_submit(
    interaction: discord.Interaction, store: Store, *, mode: str
) -> GuildSettings:
    """Raise PolicyError unless this member may submit a paid job of `mode` here and now.

    Returns the settings; create the job with `limits=JobLimits.from_settings(settings)`.
    """
    return await check_member_can_submit(
        store,
        guild_id=guild_id_of(interaction),
        user_id=interaction.user.id,
        member_role_ids=member_role_ids(interaction),
        channel_id=interaction.channel_id or 0,
        is_admin=can_manage_server(interaction),
        mode=mode,
        parent_channel_id=parent_channel_id(interaction),
    )


async def ensure_submit_allowed(
    interaction: discord.Interaction, store: Store, *, mode: str | None
) -> GuildSettings:
    """The early check of a paid command; `mode` None means the server's default mode."""
    if mode is None:
        mode = (await store.get_settings(guild_id_of(interaction))).default_mode or "std"
    return await ensure_member_can_submit(interaction, store, mode=mode.strip().lower())
