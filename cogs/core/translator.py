"""Slash-command names, descriptions and choices in Indonesian and Brazilian Portuguese.

discord.py asks the tree's translator for every translatable string of every command when it
builds the payload it syncs; the answers become ``name_localizations`` and
``description_localizations``, so Discord itself shows ``/kling sunting`` to an Indonesian client.
The strings come from the same gettext catalogues as the bot's messages (``bot.i18n``), told
apart by msgctxt: ``command`` for command, group and option names (Discord wants them lower case,
without spaces, at most 32 characters), ``context-menu`` for context-menu names,
``command-description`` for descriptions and ``choice`` for choice names. A string a catalogue
lacks is left out, and Discord shows the English one.

Wiring: ``await bot.tree.set_translator(KlingTranslator())`` in ``setup_hook``, before syncing.
``python tools/update_catalogues.py`` lists the strings with :func:`command_messages`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n import DEFAULT_LOCALE, locale_for, lookup
from bot.i18n.extract import SourceMessage

COMMAND_NAME = "command"
CONTEXT_MENU_NAME = "context-menu"
DESCRIPTION = "command-description"
CHOICE = "choice"

_DESCRIPTIONS = frozenset(
    {
        Where.command_description,
        Where.group_description,
        Where.parameter_description,
    }
)
_NAMES = frozenset({Where.command_name, Where.group_name, Where.parameter_name})


def message_context(context: app_commands.TranslationContext[Any, Any]) -> str | None:
    """The msgctxt of a command string, or None for strings this bot does not translate."""
    location = context.location
    if location in _NAMES:
        if isinstance(context.data, app_commands.ContextMenu):
            return CONTEXT_MENU_NAME
        return COMMAND_NAME
    if location in _DESCRIPTIONS:
        return DESCRIPTION
    if location is Where.choice_name:
        return CHOICE
    return None


class KlingTranslator(app_commands.Translator):
    """Answers from the bot's catalogues; None (Discord keeps the English) when there is none."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        code = locale_for(locale)
        msgctxt = message_context(context)
        # en-GB and en-US are served by the English source text itself.
        if code == DEFAULT_LOCALE or msgctxt is None:
            return None
        return lookup(code, string.message, msgctxt)


class _Collector(app_commands.Translator):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[tuple[str, str | None], SourceMessage] = {}

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        msgctxt = message_context(context)
        if msgctxt is not None and locale is discord.Locale.indonesian:
            where = _where(context)
            entry = self.found.setdefault(
                (string.message, msgctxt), SourceMessage(string.message, msgctxt)
            )
            if where not in entry.locations:
                entry.locations.append(where)
        return None


def _where(context: app_commands.TranslationContext[Any, Any]) -> tuple[str, int]:
    """A location for the catalogue comment: ``/kling edit`` plus the kind of string."""
    data = context.data
    command = getattr(data, "command", data)  # a Parameter or Choice knows little; say what
    name = str(getattr(command, "qualified_name", None) or getattr(data, "name", "?"))
    # No spaces: a .po location holding one gets wrapped in bidi isolation marks.
    return f"/{name.replace(' ', '/')}:{context.location.name}", 0


async def command_messages(
    commands: Iterable[
        app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu
    ],
    tree: app_commands.CommandTree,
) -> list[SourceMessage]:
    """Every translatable string of ``commands``, as discord.py itself walks them to sync."""
    collector = _Collector()
    for command in commands:
        await command.get_translated_payload(tree, collector)
    return list(collector.found.values())
