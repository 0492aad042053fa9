"""`kling-bot run` failing to start says why in one line, exits 2, and shows no traceback;
a good start logs no voice warnings and warns when the edits come from the emulator."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bot.cli import main
from tests.cogs.delivery_support import start_bot_process, stop_bot_process
from tests.discord_twin import DiscordTwin
from tests.processes import ChildProcess, child_env, python_module

REPO = Path(__file__).resolve().parents[2]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
VOICE_WARNING = "voice will NOT be supported"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(
    tmp_path: Path, api_base: str, *, storage: str = "data/bot.sqlite3", media: str = "data/media"
) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[discord]\napi_base = "{api_base}"\n[kling]\nprovider = "emulator"\n'
        f'[storage]\npath = "{storage}"\nmedia_dir = "{media}"\n'
    )
    return path


def run_in_process(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    for name in ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    status = main(["run", "--config", str(config)])
    return status, capsys.readouterr().err


def the_failure(err: str) -> str:
    """The one line the operator reads: the last one, after any log lines."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("kling-bot cannot start: "), err
    return lines[-1].removeprefix("kling-bot cannot start: ")


def test_discord_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    config = write_config(tmp_path, f"http://127.0.0.1:{port}/api/v10")
    status, err = run_in_process(config, capsys, monkeypatch)
    assert status == 2
    assert the_failure(err) == (
        f"cannot reach Discord at 127.0.0.1:{port} (Connection refused): check the network, DNS "
        "and proxy settings, and [discord] api_base"
    )
    assert VOICE_WARNING not in err


@pytest.mark.parametrize(
    ("storage", "problem"),
    [
        ("/sys/kling-bot/bot.sqlite3", "cannot create the storage folder /sys/kling-bot"),
        ("/proc/1/bot.sqlite3", "the storage folder /proc/1 is not writable by uid"),
        ("in-the-way/bot.sqlite3", "storage folder {tmp}/in-the-way exists but is not a folder"),
    ],
)
def test_unusable_storage_is_found_before_connecting(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    storage: str,
    problem: str,
) -> None:
    (tmp_path / "in-the-way").write_text("a file, not a folder")
    # Discord is unreachable too: the storage problem coming alone shows nothing was dialled.
    config = write_config(tmp_path, f"http://127.0.0.1:{closed_port()}/api/v10", storage=storage)
    status, err = run_in_process(config, capsys, monkeypatch)
    assert status == 2
    assert the_failure(err).startswith(problem.format(tmp=tmp_path))
    assert "Discord" not in err and "logging in" not in err


def test_config_path_that_is_a_folder_exits_2_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, err = run_in_process(tmp_path, capsys, monkeypatch)
    assert status == 2
    assert err == (
        f"kling-bot cannot start: config file {tmp_path} is a folder, not a file: "
        "give the path of a .toml file\n"
    )


@pytest.mark.parametrize(
    ("content", "env", "problem"),
    [
        (b"[discord]\n# caf\xe9\n", {}, "config file {path} is not UTF-8 text"),
        (b"[kling\n", {}, "config file {path} is not valid TOML"),
        (b'[discord]\ntoken = "..."\n', {}, "[discord] token looks like a placeholder"),
        (
            b'[kling]\ncallback_base_url = "http://bot.mydomain.net"\n',
            {},
            "[kling] callback_base_url must be an https:// URL",
        ),
        (
            b"",
            {"KLING_ACCESS_KEY": "AKa1b2c3d4"},
            "Kling access key is set but its secret key is not",
        ),
        (
            b"",
            {"KLING_SECRET_KEY": "SKf0e9d8c7"},
            "Kling secret key is set but its access key is not",
        ),
        (
            b"",
            {"KLING_BOT__KLING__CALLBACK_PORT": "http"},
            "KLING_BOT__KLING__CALLBACK_PORT must be a whole number",
        ),
    ],
)
def test_each_configuration_problem_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes,
    env: dict[str, str],
    problem: str,
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    for name in [n for n in os.environ if n.startswith(("DISCORD_", "KLING_"))]:
        monkeypatch.delenv(name)
    if b"token" not in content:
        monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = main(["run", "--config", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("kling-bot cannot start: " + problem.format(path=path)), err


async def test_token_refused_by_discord(tmp_path: Path, discord_twin: DiscordTwin) -> None:
    config = write_config(tmp_path, discord_twin.api_base)
    log = tmp_path / "bot.log"
    proc = ChildProcess.start(
        python_module("bot.cli", "run", "--config", str(config)),
        cwd=REPO,
        env=child_env({"DISCORD_TOKEN": TOKEN + "-wrong"}),
        log=log,
    )
    try:
        status = await proc.wait()
    finally:
        await proc.stop(kill=True)
    output = proc.output()
    assert status == 2, output
    assert the_failure(output) == (
        "Discord refused the bot token (401 Unauthorized): copy the token again from the "
        "developer portal (Bot > Reset Token) into DISCORD_TOKEN or [discord] token"
    )
    assert TOKEN not in output
    assert VOICE_WARNING not in output


async def test_a_good_start_has_no_voice_warnings_and_warns_about_the_emulator(
    tmp_path: Path,
    discord_twin: DiscordTwin,
) -> None:
    config = write_config(tmp_path, discord_twin.api_base)
    proc = await start_bot_process(config, discord_twin)
    await stop_bot_process(proc)
    output = proc.output()
    assert proc.returncode == 0, output
    assert VOICE_WARNING not in output and "PyNaCl" not in output
    [warning] = [line for line in output.splitlines() if "WARNING" in line]
    assert "Kling provider is the emulator" in warning


async def test_unreachable_postgres_is_one_line_without_its_password(
    tmp_path: Path, discord_twin: DiscordTwin
) -> None:
    port = closed_port()
    config = write_config(tmp_path, discord_twin.api_base)
    url = f"postgresql://kling:hunter2-secret@127.0.0.1:{port}/kling_bot"
    proc = ChildProcess.start(
        python_module("bot.cli", "run", "--config", str(config)),
        cwd=REPO,
        env=child_env({"DISCORD_TOKEN": discord_twin.token, "DATABASE_URL": url}),
        log=tmp_path / "bot.log",
    )
    try:
        status = await proc.wait()
    finally:
        await proc.stop(kill=True)
    output = proc.output()
    assert status == 2, output
    assert the_failure(output).startswith(
        f'the PostgreSQL database "kling_bot" at 127.0.0.1:{port} cannot be used: '
    )
    assert "hunter2-secret" not in output
