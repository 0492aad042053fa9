"""`kling-bot check` against the loopback Discord stand-in and the Kling emulator: the lines an
operator reads and the exit status, for a passing set-up and for each thing that can be wrong with
Discord, Kling, the callback URL or the configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.callbacks import CallbackServer
from bot.cli import main
from bot.kling.emulator import KlingEmulator
from bot.permissions import Permission
from tests.bot.checkup_support import (
    KLING_KEY,
    Setup,
    clean_env,
    emulator,
    free_port,
    line,
    setup,
)
from tests.discord_twin import DiscordTwin
from tests.discord_twin.model import TwinGuild

__all__ = ["clean_env", "emulator", "setup"]  # fixtures pytest finds here by name


async def test_everything_right_passes_every_check(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
    emulator: KlingEmulator,
) -> None:
    status, lines = await setup.run(capsys)

    assert status == 0
    assert lines[-1] == "all 8 checks passed"
    assert all(text.startswith("OK   ") for text in lines[:-1]), lines
    config_path = setup.tmp_path / "config.toml"
    assert line(lines, "configuration") == (
        f"OK   configuration: loaded {config_path}; Kling provider kling"
    )
    assert line(lines, "Discord token") == (
        f"OK   Discord token: accepted: the bot is {discord_twin.bot_user.username} "
        f"(id {discord_twin.bot_user.id})"
    )
    assert line(lines, "Discord application") == (
        f"OK   Discord application: Kling Bot (id {discord_twin.application_id})"
    )
    assert line(lines, "Discord servers") == "OK   Discord servers: in 1 server: Test Server"
    assert line(lines, "Kling") == (
        f"OK   Kling: the credentials work (provider kling at {emulator.base_url}; no tasks yet)"
    )
    base = setup.kling["callback_base_url"]
    assert line(lines, "callback URL") == (
        f"OK   callback URL: {base} reaches the callback endpoint "
        f"(port {setup.kling['callback_port']})"
    )
    data = setup.tmp_path / "data"
    assert line(lines, "storage folder") == f"OK   storage folder: {data} is writable"
    assert line(lines, "media folder") == f"OK   media folder: {data / 'media'} is writable"
    # The folders were created, and the probe files are gone again.
    assert sorted(p.name for p in data.rglob("*")) == ["media"]
    # Really asked, not assumed: the three Discord reads and one free Kling call.
    asked = {(r.method, r.path, r.status) for r in discord_twin.requests}
    assert {
        ("GET", "/users/@me", 200),
        ("GET", "/oauth2/applications/@me", 200),
        ("GET", "/users/@me/guilds", 200),
    } <= asked
    assert emulator.faults.calls["multi-elements:list"] == 1
    assert discord_twin.token not in "\n".join(lines) and KLING_KEY not in "\n".join(lines)


async def test_refused_discord_token(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "MTIzNDU2.wrong.token-from-an-old-bot")
    status, lines = await setup.run(capsys)

    assert status == 1
    assert line(lines, "Discord token") == (
        "FAIL Discord token: Discord refused the token (401): copy a new one from the developer "
        "portal, Bot page"
    )
    assert line(lines, "Discord application").startswith("SKIP ")
    assert line(lines, "Discord servers").startswith("SKIP ")
    assert line(lines, "Kling").startswith("OK   ")
    assert lines[-1] == "3 of 8 checks did not pass"
    assert "wrong.token" not in "\n".join(lines)


async def test_discord_unreachable(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = free_port()
    setup.discord["api_base"] = f"http://127.0.0.1:{closed}/api/v10"
    status, lines = await setup.run(capsys)

    assert status == 1
    token_line = line(lines, "Discord token")
    assert token_line.startswith(
        f"FAIL Discord token: cannot reach Discord at http://127.0.0.1:{closed}/api/v10 ("
    )
    assert token_line.endswith(
        "): check this machine's network, firewall or proxy, and [discord] api_base if set"
    )
    assert line(lines, "Discord servers") == "SKIP Discord servers: Discord is not reachable"


async def test_kling_refuses_the_key(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
    monkeypatch: pytest.MonkeyPatch,
    emulator: KlingEmulator,
) -> None:
    monkeypatch.setenv("KLING_API_KEY", "a-key-from-another-account")
    status, lines = await setup.run(capsys)

    assert status == 1
    assert line(lines, "Kling") == (
        f"FAIL Kling: Kling refused the key (code 1002, provider kling at {emulator.base_url}): "
        "check KLING_API_KEY, or KLING_ACCESS_KEY and KLING_SECRET_KEY against the keys in your "
        "account, and that [kling] provider matches where they come from"
    )
    assert [t for t in lines if t.startswith("FAIL")] == [line(lines, "Kling")]
    assert "another-account" not in "\n".join(lines)


async def test_kling_account_out_of_credit_by_fault_injection(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
    emulator: KlingEmulator,
) -> None:
    emulator.faults.fail("multi-elements:list", 1102)
    status, lines = await setup.run(capsys)

    assert status == 1
    assert line(lines, "Kling").startswith(
        "FAIL Kling: the key works but the account cannot pay (code 1102, provider kling at "
    )


async def test_unreachable_callback_url(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
) -> None:
    # The public URL leads nowhere: it is not the port the callback endpoint listens on.
    closed = free_port()
    setup.kling["callback_base_url"] = f"http://127.0.0.1:{closed}"
    status, lines = await setup.run(capsys)

    assert status == 1
    callback = line(lines, "callback URL")
    port = setup.kling["callback_port"]
    assert callback.startswith(
        f"FAIL callback URL: http://127.0.0.1:{closed}/kling/callback-health is not reachable ("
    )
    assert callback.endswith(
        f"): the URL must lead to port {port} of this machine (a reverse proxy with TLS "
        f"forwarding http://127.0.0.1:{closed}/kling/ to it); fix the proxy or [kling] "
        "callback_base_url"
    )


async def test_callback_port_held_by_the_running_bot(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
) -> None:
    # The bot is running and serves the endpoint: the check cannot take the port, and asks it.
    running = CallbackServer(lambda job_id: None, port=0, host="127.0.0.1")
    await running.start()
    try:
        assert running.port is not None
        setup.kling.update(
            callback_base_url=f"http://127.0.0.1:{running.port}", callback_port=running.port
        )
        status, lines = await setup.run(capsys)
    finally:
        await running.close()
    assert status == 0
    assert line(lines, "callback URL") == (
        f"OK   callback URL: http://127.0.0.1:{running.port} reaches the callback endpoint "
        f"(port {running.port})"
    )


async def test_callback_url_that_leads_elsewhere(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
    emulator: KlingEmulator,
) -> None:
    # A proxy that forwards to the wrong service: something answers, but not the bot.
    setup.kling["callback_base_url"] = emulator.base_url
    status, lines = await setup.run(capsys)

    assert status == 1
    assert line(lines, "callback URL").startswith(
        f"FAIL callback URL: {emulator.base_url}/kling/callback-health answered HTTP 404, not "
        "the bot's callback endpoint: the URL must lead to port "
    )


async def test_callbacks_not_configured_is_fine(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
) -> None:
    del setup.kling["callback_base_url"]
    status, lines = await setup.run(capsys)

    assert status == 0
    assert line(lines, "callback URL") == (
        "OK   callback URL: not set: callbacks off, the bot polls"
    )


async def test_bot_in_no_server_is_told_how_to_invite(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines = await setup.run(capsys)

    assert status == 1
    assert line(lines, "Discord servers") == (
        "FAIL Discord servers: the bot is in no server: open the URL that `kling-bot invite` "
        "prints and add it to yours"
    )


async def test_server_where_the_bot_lacks_permissions(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    discord_twin: DiscordTwin,
    twin_guild: TwinGuild,
) -> None:
    stingy = discord_twin.add_guild("Stingy Server", everyone_permissions=0)
    for role in stingy.roles.values():
        role.permissions &= ~(Permission.ATTACH_FILES | Permission.READ_MESSAGE_HISTORY)
    status, lines = await setup.run(capsys)

    assert status == 1
    assert line(lines, "Discord servers") == (
        "FAIL Discord servers: in 2 servers (Test Server, Stingy Server), but Stingy Server "
        "lacks Attach Files, Read Message History: give the bot's role these permissions, or "
        "invite it again with the URL that `kling-bot invite` prints"
    )


async def test_built_in_emulator_says_so(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    twin_guild: TwinGuild,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KLING_API_KEY")
    setup.kling = {"provider": "emulator"}
    status, lines = await setup.run(capsys)

    assert status == 0
    assert line(lines, "Kling") == (
        "OK   Kling: the built-in emulator (starts with the bot; no key, no cost): members get "
        "emulator edits, not real Kling edits"
    )


def test_config_that_cannot_be_loaded_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[kling]\nprovider = "nope"\n')
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kling-bot check: the configuration cannot be loaded:\n  - ")
    assert "provider" in err
