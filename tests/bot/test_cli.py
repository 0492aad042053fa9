import subprocess
import sys

import pytest

from bot.cli import build_parser, main

COMMANDS = ["run", "demo", "emulator", "sync", "check", "invite", "backup"]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: kling-bot {command}" in capsys.readouterr().out


def test_run_without_token_explains_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DISCORD_TOKEN", "KLING_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "no Discord token: set DISCORD_TOKEN or [discord] token" in err


def test_bad_config_file_is_reported_not_a_traceback(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[kling]\nprovider = "nope"\n')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "provider must be one of" in err and "Traceback" not in err


def test_console_script_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in COMMANDS:
        assert command in out
