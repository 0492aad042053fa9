"""The synced command schema: what Discord will show users, checked without logging in."""

import discord
import pytest
from discord import app_commands

from bot.config import Config
from cogs.core.app import EXTENSIONS, KlingBot, use_api_base
from cogs.core.tree import describe_app_command_error


@pytest.fixture
async def bot() -> KlingBot:
    bot = KlingBot(Config())
    for name in EXTENSIONS:
        await bot.load_extension(name)
    yield bot
    await bot.close()
    use_api_base(None)


def walk(bot: KlingBot) -> list[app_commands.Command]:
    return [c for c in bot.tree.walk_commands() if isinstance(c, app_commands.Command)]


async def test_every_command_fits_discords_limits(bot: KlingBot) -> None:
    commands = walk(bot)
    assert commands, "no slash commands registered"
    names = [c.qualified_name for c in commands]
    assert len(names) == len(set(names))
    for command in commands:
        assert 1 <= len(command.description) <= 100, command.qualified_name
        assert len(command.parameters) <= 25
        for param in command.parameters:
            assert 1 <= len(param.description) <= 100, (command.qualified_name, param.name)


async def test_kling_group_is_server_only(bot: KlingBot) -> None:
    schema = {c["name"]: c for c in await bot.command_schema()}
    assert schema["kling"]["contexts"] == [0] or schema["kling"].get("dm_permission") is False


async def test_schema_digest_changes_only_when_commands_change(bot: KlingBot) -> None:
    first = await bot._schema_digest()
    assert await bot._schema_digest() == first
    bot.tree.add_command(app_commands.Command(name="extra", description="x", callback=_noop))
    assert await bot._schema_digest() != first


async def _noop(interaction: discord.Interaction) -> None:
    return None


def test_api_base_points_rest_and_webhooks_elsewhere() -> None:
    use_api_base("http://127.0.0.1:9/api/v10")
    try:
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
    finally:
        use_api_base(None)
    assert discord.http.Route("GET", "/x").url == "https://discord.com/api/v10/x"


def test_discord_errors_become_plain_sentences() -> None:
    assert describe_app_command_error(app_commands.NoPrivateMessage()) == (
        "This command works in a server channel, not in direct messages."
    )
    assert "Manage Server" in describe_app_command_error(
        app_commands.MissingPermissions(["manage_guild"])
    )
    assert describe_app_command_error(app_commands.AppCommandError()) is None
