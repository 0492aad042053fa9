"""Regenerate bot/locales/ from the source and the slash commands, keeping every translation.

    .venv/bin/python tools/update_catalogues.py

Builds the bot's command tree offline (no login, no network) to list the command strings, then
runs ``bot.i18n.update`` with them; see ``bot/i18n/__init__.py`` for the whole workflow.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Config
from bot.i18n import update
from bot.i18n.extract import SourceMessage
from cogs.core.app import EXTENSIONS, KlingBot, use_api_base
from cogs.core.translator import command_messages


async def slash_command_strings() -> list[SourceMessage]:
    bot = KlingBot(Config())
    try:
        for name in EXTENSIONS:
            await bot.load_extension(name)
        return await command_messages(bot.tree.get_commands(), bot.tree)
    finally:
        await bot.close()
        use_api_base(None)


def main() -> int:
    return update.main(asyncio.run(slash_command_strings()))


if __name__ == "__main__":
    raise SystemExit(main())
