"""The command tree: one place that turns every error into a short message for the user."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.errors import new_error_id, user_message_for
from cogs.replies import send_reply

log = logging.getLogger(__name__)


def describe_app_command_error(error: app_commands.AppCommandError) -> str | None:
    """A user message for the errors discord.py raises itself, or None if unexpected."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the Manage Server permission for that."
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"I am missing a permission in this channel: {missing}."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server channel, not in direct messages."
    if isinstance(error, app_commands.TransformerError):
        return f"`{error.value}` is not a valid value for this option."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You cannot use this command here."
    return None


class KlingTree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        message = user_message_for(cause) or describe_app_command_error(error)
        if message is None:
            error_id = new_error_id()
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("unexpected error %s in /%s", error_id, command, exc_info=cause)
            message = f"Something went wrong on our side (error id `{error_id}`)."
        await send_reply(interaction, message)
