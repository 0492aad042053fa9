"""Whose language a message is in: the member's for what one member reads, the server's for
channel messages everybody reads (SPEC §8; see ``bot/i18n/__init__.py`` for the catalogues).

Every function returns something ``Msg.render`` takes (a ``discord.Locale`` or None, which is
English), so callers never deal with catalogue names.
"""

from __future__ import annotations

from typing import Any

import discord


def member_locale(interaction: discord.Interaction) -> discord.Locale:
    """The language of the member's Discord client: ephemeral replies, modals, their cards."""
    return interaction.locale


def server_locale(client: discord.Client | Any, guild_id: int | None) -> discord.Locale | None:
    """The server's preferred language (its Community setting), for channel messages; None
    (English) for a server the bot does not see."""
    if guild_id is None:
        return None
    get_guild = getattr(client, "get_guild", None)
    guild = get_guild(guild_id) if callable(get_guild) else None
    return guild.preferred_locale if guild is not None else None


def channel_locale(interaction: discord.Interaction) -> discord.Locale | None:
    """The server's language for a channel message posted while handling ``interaction``."""
    return interaction.guild_locale or server_locale(interaction.client, interaction.guild_id)
