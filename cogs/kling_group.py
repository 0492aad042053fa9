"""The one `/kling` command group, shared by the command mixins that make up the Kling cog.

discord.py lets one cog own a group; our `/kling` subcommands live in several modules (editing,
marking, submitting, status) so that each stays small. Each module declares its subcommands on
`KLING` inside a mixin class, and `cogs.status.KlingCog` inherits every mixin, so the cog binds
them all to one group instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.editing import EditingService
    from bot.storage import Store

KLING = app_commands.Group(
    name="kling", description="Edit short videos with Kling AI", guild_only=True
)


def editing_service(client: discord.Client | Any) -> EditingService:
    """The bot's editing service (wired by `cogs.app.KlingBot.setup_hook`)."""
    service = getattr(client, "editing", None)
    if service is None:
        raise RuntimeError("the editing service is not running")
    return service


def store_of(client: discord.Client | Any) -> Store:
    store = getattr(client, "store", None)
    if store is None:
        raise RuntimeError("the database is not open")
    return store
