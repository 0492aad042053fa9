"""The one `/kling` command group, and the base of the feature cogs that fill it.

Each bot's tree makes its own `/kling` group (`cogs.core.tree.KlingTree`). A feature cog
(editing, jobs, animate) declares its subcommands as plain `app_commands.command` methods; on
load they are moved under the group, on unload taken out again, so every feature loads and
reloads on its own while Discord still sees one `/kling` command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

if TYPE_CHECKING:
    from bot.editing import EditingService
    from bot.storage import Store

# Subcommands in the order Discord receives them whatever order the features load in: the
# synced schema (and its digest, which decides whether to register again) stays the same.
SUBCOMMAND_ORDER = (
    "animate",
    "edit",
    "mark",
    "undo",
    "clear",
    "frame",
    "preview",
    "status",
    "end",
    "remove",
    "swap",
    "add",
    "jobs",
)


class KlingGroup(app_commands.Group):
    def __init__(self) -> None:
        super().__init__(
            name="kling", description="Edit short videos with Kling AI", guild_only=True
        )

    def add_command(self, command: Any, /, *, override: bool = False) -> None:
        super().add_command(command, override=override)
        rank = {name: i for i, name in enumerate(SUBCOMMAND_ORDER)}
        self._children = dict(
            sorted(self._children.items(), key=lambda item: rank.get(item[0], len(rank)))
        )


def kling_group(client: commands.Bot) -> KlingGroup:
    """This bot's `/kling` group."""
    group = client.tree.get_command("kling")
    if not isinstance(group, KlingGroup):
        raise RuntimeError("the bot's tree has no /kling group (use cogs.core.tree.KlingTree)")
    return group


class KlingSubcommands(commands.Cog):
    """A cog whose app commands are `/kling` subcommands."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.subcommands: list[app_commands.Command[Any, ..., Any]] = []

    async def cog_load(self) -> None:
        # Runs before discord.py adds the cog's app commands to the tree as top-level commands:
        # taking them out of the cog's list leaves them to the group alone.
        group = kling_group(self.bot)
        mine = [c for c in self.__cog_app_commands__ if isinstance(c, app_commands.Command)]
        for command in mine:
            command.parent = group
            group.add_command(command)
        self.subcommands = mine
        self.__cog_app_commands__ = [c for c in self.__cog_app_commands__ if c not in mine]

    async def cog_unload(self) -> None:
        group = kling_group(self.bot)
        for command in self.subcommands:
            group.remove_command(command.name)
        self.subcommands = []


def editing_service(client: discord.Client | Any) -> EditingService:
    """The bot's editing service (wired by `cogs.core.app.KlingBot.setup_hook`)."""
    service: EditingService | None = getattr(client, "editing", None)
    if service is None:
        raise RuntimeError("the editing service is not running")
    return service


def store_of(client: discord.Client | Any) -> Store:
    store: Store | None = getattr(client, "store", None)
    if store is None:
        raise RuntimeError("the database is not open")
    return store
