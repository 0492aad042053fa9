"""`kling-bot invite`: the scopes, the permission integer from the named bits, and the URL."""

from __future__ import annotations

import asyncio
import os
from urllib.parse import parse_qs, urlsplit

import discord
import pytest

from bot.cli import main
from bot.permissions import (
    BOT_PERMISSIONS,
    Permission,
    invite_url,
    missing_permissions,
    permission_integer,
)
from tests.discord_twin import DiscordTwin


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "KLING_")):
            monkeypatch.delenv(name)


def test_permission_integer_is_the_or_of_the_named_bits() -> None:
    # discord.py's own flag table is the independent source for Discord's bit numbers.
    expected = discord.Permissions(**{p.bit.name.lower(): True for p in BOT_PERMISSIONS})
    assert permission_integer() == expected.value
    assert expected == discord.Permissions(
        view_channel=True,
        send_messages=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
        create_public_threads=True,
        send_messages_in_threads=True,
    )
    assert not permission_integer() & Permission.ADMINISTRATOR
    bits = [p.bit for p in BOT_PERMISSIONS]
    assert len(set(bits)) == len(bits) and all(b.bit_count() == 1 for b in bits)
    assert all(p.label and p.used_for for p in BOT_PERMISSIONS)


def test_invite_url_has_exactly_the_two_scopes_and_the_permissions() -> None:
    url = invite_url(123456789012345678)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    assert parse_qs(parts.query) == {
        "client_id": ["123456789012345678"],
        "scope": ["bot applications.commands"],
        "permissions": [str(permission_integer())],
    }
    assert url == (
        "https://discord.com/oauth2/authorize?client_id=123456789012345678"
        f"&scope=bot+applications.commands&permissions={permission_integer()}"
    )


def test_missing_permissions_names_what_a_server_lacks() -> None:
    everything = permission_integer()
    assert missing_permissions(everything) == []
    assert missing_permissions(Permission.ADMINISTRATOR) == []
    lacking = everything & ~Permission.ATTACH_FILES & ~Permission.SEND_MESSAGES_IN_THREADS
    assert [p.label for p in missing_permissions(lacking)] == [
        "Attach Files",
        "Send Messages in Threads",
    ]


def test_invite_with_client_id_prints_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--client-id", "123456789012345678"]) == 0
    assert capsys.readouterr().out == invite_url(123456789012345678) + "\n"


def test_invite_refuses_a_client_id_that_is_not_a_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["invite", "--client-id", "my-bot"])
    assert exc.value.code == 2
    assert "'my-bot' is not an application id" in capsys.readouterr().err


async def test_invite_looks_the_application_up_with_the_token(
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    discord_twin: DiscordTwin,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[discord]\napi_base = "{discord_twin.api_base}"\n')
    monkeypatch.setenv("DISCORD_TOKEN", discord_twin.token)
    status = await asyncio.to_thread(main, ["invite", "--config", str(config)])
    assert status == 0
    assert capsys.readouterr().out == invite_url(discord_twin.application_id) + "\n"

    monkeypatch.setenv("DISCORD_TOKEN", "a-revoked-token-value")
    status = await asyncio.to_thread(main, ["invite", "--config", str(config)])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert "cannot look up the application id (HTTP 401" in captured.err
    assert "give --client-id N instead" in captured.err
    assert "revoked-token" not in captured.err


def test_invite_without_token_or_client_id_says_what_to_give(
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["invite"]) == 2
    assert "--client-id" in capsys.readouterr().err


def test_invite_help_lists_each_permission_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["invite", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for permission in BOT_PERMISSIONS:
        assert f"{permission.label} ({permission.used_for})" in text
