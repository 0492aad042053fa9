"""Slash commands in Indonesian and Brazilian Portuguese: the schema the bot syncs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.config import Config
from bot.i18n import LOCALES
from bot.i18n.catalogues import catalogue
from bot.i18n.check import catalogue_problems
from bot.i18n.extract import project_messages
from cogs.core.app import EXTENSIONS, KlingBot, use_api_base
from cogs.core.translator import KlingTranslator, command_messages
from tests.cogs.harness import KlingWorld, kling_world
from tests.discord_twin.commands import find_command

__all__ = ["kling_world"]

TRANSLATED = ("id", "pt-BR")


@pytest.fixture
async def bot() -> AsyncIterator[KlingBot]:
    bot = KlingBot(Config())
    for name in EXTENSIONS:
        await bot.load_extension(name)
    await bot.tree.set_translator(KlingTranslator())
    yield bot
    await bot.close()
    use_api_base(None)


async def synced_payload(bot: KlingBot) -> list[dict[str, Any]]:
    """Exactly what `tree.sync()` sends to Discord with the translator set."""
    translator = bot.tree.translator
    assert translator is not None
    return [
        await command.get_translated_payload(bot.tree, translator)
        for command in bot.tree.get_commands()
    ]


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


def walk(items: list[dict[str, Any]], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every command, subcommand and option payload, with where it sits."""
    for item in items:
        here = f"{path} {item['name']}".strip()
        yield here, item
        yield from walk(item.get("options") or [], here)
        yield from walk(item.get("choices") or [], here)


async def test_command_names_and_descriptions_are_localised(bot: KlingBot) -> None:
    payload = await synced_payload(bot)
    kling = by_name(payload, "kling")
    edit = by_name(kling["options"], "edit")
    assert edit["name_localizations"] == {"id": "sunting", "pt-BR": "editar"}
    assert edit["description_localizations"] == {
        "id": "Mulai menyunting video di channel ini",
        "pt-BR": "Começar a editar um vídeo neste canal",
    }
    points = by_name(by_name(kling["options"], "mark")["options"], "points")
    assert points["name_localizations"] == {"id": "titik", "pt-BR": "pontos"}
    assert points["description_localizations"]["id"].startswith("Sel (C4)")
    menu = by_name(payload, "Edit video with Kling")
    assert menu["name_localizations"] == {
        "id": "Sunting video dengan Kling",
        "pt-BR": "Editar vídeo com Kling",
    }
    admin = by_name(payload, "kling-admin")
    assert by_name(admin["options"], "settings")["name_localizations"]["pt-BR"] == "configurações"


async def test_every_string_is_localised_in_both_languages_and_english_is_left_alone(
    bot: KlingBot,
) -> None:
    payload = await synced_payload(bot)
    seen = 0
    for where, item in walk(payload):
        names = item.get("name_localizations")
        assert names is not None, where
        seen += 1
        assert set(names) == set(TRANSLATED), where
        if item.get("description"):
            assert set(item["description_localizations"]) == set(TRANSLATED), where
    assert seen > 60
    assert "en-US" not in by_name(payload, "kling")["name_localizations"]


def valid_slash_name(name: str) -> bool:
    # Discord: ^[-_'\p{L}\p{N}...]{1,32}$, lower case where the letter has a lower case.
    return (
        1 <= len(name) <= 32
        and name == name.lower()
        and all(ch.isalnum() or ch in "-_'" for ch in name)
    )


async def test_localised_names_follow_discord_s_rules(bot: KlingBot) -> None:
    payload = await synced_payload(bot)
    for where, item in walk(payload):
        is_menu = item.get("type") in (2, 3)
        for locale, name in (item.get("name_localizations") or {}).items():
            if is_menu:
                assert 1 <= len(name) <= 32, (where, locale, name)
            elif "value" not in item:  # a choice name may be any 1-100 characters
                assert valid_slash_name(name), (where, locale, name)
            else:
                assert 1 <= len(name) <= 100, (where, locale, name)
        for locale, text in (item.get("description_localizations") or {}).items():
            assert 1 <= len(text) <= 100, (where, locale, text)
    # Siblings must stay distinct in every language, as they are in English.
    for where, item in walk(payload):
        children = item.get("options") or []
        for locale in TRANSLATED:
            names = [c.get("name_localizations", {}).get(locale, c["name"]) for c in children]
            assert len(names) == len(set(names)), (where, locale, names)


async def test_every_command_string_is_in_every_catalogue_and_none_is_stale(
    bot: KlingBot,
) -> None:
    strings = await command_messages(bot.tree.get_commands(), bot.tree)
    expected = [s.key for s in strings] + list(project_messages().messages)
    for locale in LOCALES:
        parsed = catalogue(locale)
        assert parsed is not None
        problems = catalogue_problems(expected, parsed, locale, stale_contexts=True)
        assert not problems, "\n".join(problems[:20])


async def test_a_missing_translation_leaves_discord_the_english_name() -> None:
    translator = KlingTranslator()
    command = app_commands.Command(
        name="nothing", description="Not in any catalogue", callback=_noop
    )
    context = app_commands.TranslationContext(
        location=app_commands.TranslationContextLocation.command_name, data=command
    )
    untranslated = app_commands.locale_str("nothing")
    assert await translator.translate(untranslated, discord.Locale.indonesian, context) is None
    edit = app_commands.locale_str("edit")
    assert await translator.translate(edit, discord.Locale.indonesian, context) == "sunting"
    assert await translator.translate(edit, discord.Locale.british_english, context) is None
    assert await translator.translate(edit, discord.Locale.french, context) is None


async def _noop(interaction: discord.Interaction) -> None:
    return None


async def test_the_stand_in_accepts_the_localised_schema(kling_world: KlingWorld) -> None:
    async with kling_world.bot() as bot:
        await bot.tree.set_translator(KlingTranslator())
        await bot.sync_commands()
        kling = find_command(kling_world.twin, kling_world.guild, "kling", 1)
        assert kling["name_localizations"] == {"id": "kling", "pt-BR": "kling"}
        undo = by_name(kling["options"], "undo")
        assert undo["name_localizations"] == {"id": "urungkan", "pt-BR": "desfazer"}
