"""What the configuration refuses before anything connects: unreadable files, half a key pair,
template values, plain-http public URLs; and which provider it picks when none is named."""

import os
from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_config

REAL_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def problems_of(path: Path | None, env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    return err.value.problems


# -- provider ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"KLING_API_KEY": "k-2f9c1d"},
        {"KLING_ACCESS_KEY": "AKa1b2c3", "KLING_SECRET_KEY": "SKf0e9d8"},
    ],
)
def test_credentials_without_a_provider_mean_kling(env: dict[str, str]) -> None:
    assert load_config(None, env=env).kling.provider == "kling"


def test_no_credentials_means_the_emulator() -> None:
    assert load_config(None, env={}).kling.provider == "emulator"


def test_kling_provider_variable_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[kling]\nprovider = "emulator"\n')
    config = load_config(path, env={"KLING_PROVIDER": "cometapi", "KLING_API_KEY": "c-91ab"})
    assert config.kling.provider == "cometapi"
    assert load_config(path, env={"KLING_PROVIDER": "Kling"}).kling.provider == "kling"


def test_a_wrong_provider_variable_is_named(tmp_path: Path) -> None:
    problems = problems_of(None, {"KLING_PROVIDER": "klingai"})
    assert problems == ["KLING_PROVIDER must be one of kling, cometapi, emulator, not 'klingai'"]


# -- partial credentials -------------------------------------------------------------------


def test_access_key_without_secret_key_is_named_as_such() -> None:
    config = load_config(None, env={"DISCORD_TOKEN": REAL_TOKEN, "KLING_ACCESS_KEY": "AKa1b2c3"})
    assert config.kling.provider == "kling"
    [problem] = config.problems_for_run()
    assert problem.startswith("Kling access key is set but its secret key is not")
    assert "KLING_SECRET_KEY" in problem


def test_secret_key_without_access_key_is_named_as_such() -> None:
    config = load_config(None, env={"DISCORD_TOKEN": REAL_TOKEN, "KLING_SECRET_KEY": "SKf0e9d8"})
    [problem] = config.problems_for_run()
    assert problem.startswith("Kling secret key is set but its access key is not")
    assert "KLING_ACCESS_KEY" in problem


# -- placeholders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "...",
        "…",
        "YOUR_TOKEN",
        "your-bot-token-here",
        "changeme",
        "CHANGE_ME",
        "<token>",
        "${DISCORD_TOKEN}",
        "xxxxxxxx",
        "***",
        "token",
        "TODO",
        "placeholder",
    ],
)
def test_placeholder_token_in_the_file_is_refused(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{value}"\n')
    assert problems_of(path, {}) == [
        "[discord] token looks like a placeholder, not a real value: put the real one there, "
        "or leave it out"
    ]


def test_placeholder_in_the_environment_names_the_variable() -> None:
    problems = problems_of(None, {"KLING_API_KEY": "your_api_key", "KLING_SECRET_KEY": "..."})
    assert [p.split(" ")[0] for p in problems] == ["KLING_API_KEY", "KLING_SECRET_KEY"]
    assert all("looks like a placeholder" in p for p in problems)


@pytest.mark.parametrize("value", [REAL_TOKEN, "twin-bot-token", "k-2f9c1d", "AKa1b2c3d4e5"])
def test_real_looking_values_pass(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{value}"\n')
    assert load_config(path, env={}).discord.token == Secret(value)


# -- URLs ----------------------------------------------------------------------------------


def test_plain_http_callback_url_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[kling]\ncallback_base_url = "http://bot.mydomain.net"\n')
    assert problems_of(path, {}) == [
        "[kling] callback_base_url must be an https:// URL (plain http is accepted only for "
        "loopback hosts such as 127.0.0.1 or localhost)"
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8090",
        "http://localhost:8090",
        "http://[::1]:8090",
        "https://bot.mydomain.net",
    ],
)
def test_https_or_loopback_callback_urls_pass(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f'[kling]\ncallback_base_url = "{url}"\n')
    assert load_config(path, env={}).kling.callback_base_url == url


def test_plain_http_discord_and_kling_bases_are_refused_but_the_emulator_may_use_http(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        '[discord]\napi_base = "http://proxy.lan/api/v10"\n'
        '[kling]\nprovider = "kling"\nbase_url = "http://kling.lan"\n',
    )
    problems = problems_of(path, {})
    assert [p.split(" must")[0] for p in problems] == ["[discord] api_base", "[kling] base_url"]
    emulator = write(tmp_path, '[kling]\nprovider = "emulator"\nbase_url = "http://emu.lan:8765"\n')
    assert load_config(emulator, env={}).kling.base_url == "http://emu.lan:8765"


def test_the_example_host_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[kling]\ncallback_base_url = "https://bot.example.org"\n')
    [problem] = problems_of(path, {})
    assert "still points at the example host bot.example.org" in problem


# -- the file itself -----------------------------------------------------------------------


def test_config_path_that_is_a_folder(tmp_path: Path) -> None:
    assert problems_of(tmp_path, {}) == [
        f"config file {tmp_path} is a folder, not a file: give the path of a .toml file"
    ]


def test_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes("[discord]\n# caf\u00e9\n".encode("latin-1"))
    assert problems_of(path, {}) == [
        f"config file {path} is not UTF-8 text (byte 0xe9 on line 2): save it as UTF-8"
    ]


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    [problem] = problems_of(write(tmp_path, "[kling]\nprovider = \n"), {})
    assert problem.startswith(f"config file {tmp_path / 'config.toml'} is not valid TOML:")
    assert "\n" not in problem


def unreadable_file(tmp_path: Path) -> Path:
    path = write(tmp_path, '[kling]\nprovider = "emulator"\n')
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: use a file even root may not read
        path = Path("/proc/1/mem")
        try:
            path.read_bytes()
        except PermissionError:
            return path
        pytest.skip("no file this user cannot read")
    return path


def test_config_file_that_cannot_be_read(tmp_path: Path) -> None:
    path = unreadable_file(tmp_path)
    assert problems_of(path, {}) == [
        f"config file {path} cannot be read (permission denied): let the bot's user read it"
    ]
