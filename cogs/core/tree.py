"""One place that turns every error into a short message for the user.

Slash commands reach it through :class:`KlingTree`; views, modals and persistent (dynamic) buttons
through :class:`RoutedView`, :class:`RoutedModal` and :func:`routed_callback`, so a failure looks
the same wherever it happens and an unexpected one is logged with an id the user can quote.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import discord
from discord import app_commands

from bot.errors import new_error_id, user_message_for
from bot.fit import excerpt
from bot.i18n import Msg, Text
from cogs.core.kling_group import KlingGroup
from cogs.core.replies import send_reply

log = logging.getLogger(__name__)

# Discord answers that only mean "the thing is gone": nothing useful to tell anyone.
QUIET_DISCORD_CODES = frozenset({10062, 40060, 10008, 50027})


def describe_app_command_error(error: BaseException) -> Text | None:
    """A user message for the errors discord.py raises itself, or None if unexpected."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return Msg("Slow down: try again in {seconds} s.", seconds=f"{error.retry_after:.0f}")
    if isinstance(error, app_commands.MissingPermissions):
        return Msg("You need the Manage Server permission for that.")
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return Msg("I am missing a permission in this channel: {missing}.", missing=missing)
    if isinstance(error, app_commands.NoPrivateMessage):
        return Msg("This command works in a server channel, not in direct messages.")
    if isinstance(error, app_commands.TransformerError):
        return Msg("`{value}` is not a valid value for this option.", value=excerpt(error.value))
    if isinstance(error, app_commands.CheckFailure):
        # A check's own words (not ours to translate), else a translated default.
        return Text(str(error)) if str(error) else Msg("You cannot use this command here.")
    if isinstance(error, discord.Forbidden):
        return Msg("I am missing a permission in this channel to do that.")
    return None


def _unwrap(error: BaseException) -> BaseException:
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    return error


async def report_error(
    interaction: discord.Interaction, error: BaseException, *, where: str
) -> str | None:
    """Tell the user what went wrong (or an error id); returns the id for unexpected errors."""
    cause = _unwrap(error)
    if isinstance(cause, discord.HTTPException) and cause.code in QUIET_DISCORD_CODES:
        log.info("%s: Discord said %s (%s); nothing to answer", where, cause.code, cause.text)
        return None
    # The member who met the error reads the answer: their language.
    locale = interaction.locale
    message = user_message_for(cause, locale)
    if message is None and (described := describe_app_command_error(cause)) is not None:
        message = described.render(locale)
    error_id: str | None = None
    if message is None:
        error_id = new_error_id()
        log.error("unexpected error %s in %s", error_id, where, exc_info=cause)
        message = Msg(
            "Something went wrong on our side (error id `{error_id}`).", error_id=error_id
        ).render(locale)
    await send_reply(interaction, message)
    return error_id


class KlingTree(app_commands.CommandTree):
    """The bot's tree, with its own `/kling` group that the feature cogs fill."""

    def __init__(self, client: discord.Client, *args: Any, **kwargs: Any) -> None:
        super().__init__(client, *args, **kwargs)
        self.add_command(KlingGroup())

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        await report_error(interaction, error, where=f"/{command}")


class RoutedView(discord.ui.View):
    """A View whose item errors go to :func:`report_error`."""

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        label = getattr(item, "label", None) or getattr(item, "custom_id", None) or "?"
        await report_error(interaction, error, where=f"button {label}")


class RoutedModal(discord.ui.Modal):
    """A Modal whose submit errors go to :func:`report_error`."""

    # discord.py's Modal.on_error drops BaseView.on_error's `item` (a modal has no failing item);
    # mypy checks overrides against BaseView, so the signature Modal itself declares is refused.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report_error(interaction, error, where=f"modal {self.title}")


Owner = TypeVar("Owner")
Rest = ParamSpec("Rest")


def routed_callback(
    where: str,
) -> Callable[
    [Callable[Concatenate[Owner, discord.Interaction, Rest], Awaitable[None]]],
    Callable[Concatenate[Owner, discord.Interaction, Rest], Coroutine[Any, Any, None]],
]:
    """Wrap a DynamicItem callback: discord.py only logs their errors, users would see nothing."""

    def wrap(
        func: Callable[Concatenate[Owner, discord.Interaction, Rest], Awaitable[None]],
    ) -> Callable[Concatenate[Owner, discord.Interaction, Rest], Coroutine[Any, Any, None]]:
        @functools.wraps(func)
        async def wrapper(
            self: Owner,
            interaction: discord.Interaction,
            /,
            *args: Rest.args,
            **kwargs: Rest.kwargs,
        ) -> None:
            try:
                await func(self, interaction, *args, **kwargs)
            except Exception as error:
                await report_error(interaction, error, where=where)

        return wrapper

    return wrap
