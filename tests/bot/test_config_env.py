"""Every key from the environment: KLING_BOT__SECTION__KEY, typed, winning over the file."""

from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_config
from bot.config_sources import SCHEMA, env_name

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_every_key_of_every_section_is_reachable(tmp_path: Path) -> None:
    env = {
        "KLING_BOT__DISCORD__TOKEN": "MTIz.env-token",
        "KLING_BOT__DISCORD__API_BASE": "http://127.0.0.1:9/api/v10",
        "KLING_BOT__DISCORD__SYNC_GUILD_IDS": "111, 222",
        "KLING_BOT__DISCORD__SHARD_COUNT": "3",
        "KLING_BOT__DISCORD__SHARD_IDS": "0, 2",
        "KLING_BOT__KLING__PROVIDER": "cometapi",
        "KLING_BOT__KLING__API_KEY": "c-91ab",
        "KLING_BOT__KLING__ACCESS_KEY": "AKa1b2",
        "KLING_BOT__KLING__SECRET_KEY": "SKf0e9",
        "KLING_BOT__KLING__WEBHOOK_SECRET": "whsec_c2VjcmV0LWJ5dGVz",
        "KLING_BOT__KLING__BASE_URL": "https://api.cometapi.com",
        "KLING_BOT__KLING__CALLBACK_BASE_URL": "https://bot.mydomain.net",
        "KLING_BOT__KLING__CALLBACK_PORT": "9100",
        "KLING_BOT__KLING__POLL_TIMEOUT_MINUTES": "90",
        "KLING_BOT__KLING__CONNECT_TIMEOUT_SECONDS": "2.5",
        "KLING_BOT__KLING__REQUEST_TIMEOUT_SECONDS": "120",
        "KLING_BOT__STORAGE__PATH": str(tmp_path / "db.sqlite3"),
        "KLING_BOT__STORAGE__URL": "postgresql://kling:pw@127.0.0.1:5432/kling",
        "KLING_BOT__STORAGE__MEDIA_DIR": str(tmp_path / "media"),
        "KLING_BOT__STORAGE__RETENTION_DAYS": "7",
        "KLING_BOT__LOGGING__LEVEL": "debug",
        "KLING_BOT__LOGGING__JSON": "true",
        "KLING_BOT__WEB__PUBLIC_URL": "https://picker.mydomain.net/kling",
        "KLING_BOT__WEB__HOST": "127.0.0.1",
        "KLING_BOT__WEB__PORT": "9100",
        "KLING_BOT__WEB__LINK_MINUTES": "45",
        "KLING_BOT__WEB__SIGNING_KEY": "k3y-from-the-environment",
    }
    assert {(s, k) for s, keys in SCHEMA.items() for k in keys} == {
        tuple(name.removeprefix("KLING_BOT__").lower().split("__")) for name in env
    }
    c = load_config(None, env=env)
    assert c.discord.token == Secret("MTIz.env-token")
    assert c.discord.api_base == "http://127.0.0.1:9/api/v10"
    assert c.discord.sync_guild_ids == (111, 222)
    assert (c.discord.shards.count, c.discord.shards.ids) == (3, (0, 2))
    assert c.storage.url == Secret("postgresql://kling:pw@127.0.0.1:5432/kling")
    assert c.kling.provider == "cometapi"
    assert (c.kling.api_key, c.kling.access_key, c.kling.secret_key) == (
        Secret("c-91ab"),
        Secret("AKa1b2"),
        Secret("SKf0e9"),
    )
    assert c.kling.webhook_secret == Secret("whsec_c2VjcmV0LWJ5dGVz")
    assert c.kling.base_url == "https://api.cometapi.com"
    assert c.kling.callback_base_url == "https://bot.mydomain.net"
    assert (c.kling.callback_port, c.kling.poll_timeout_minutes) == (9100, 90)
    assert (c.kling.connect_timeout_seconds, c.kling.request_timeout_seconds) == (2.5, 120.0)
    assert (c.storage.path, c.storage.media_dir) == (tmp_path / "db.sqlite3", tmp_path / "media")
    assert c.storage.retention_days == 7
    assert (c.logging.level, c.logging.json) == ("DEBUG", True)
    assert (c.web.public_url, c.web.host, c.web.port, c.web.link_minutes) == (
        "https://picker.mydomain.net/kling",
        "127.0.0.1",
        9100,
        45,
    )
    assert c.web.signing_key == Secret("k3y-from-the-environment")


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[storage]\nretention_days = 30\n[logging]\njson = true\n"
        "[discord]\nsync_guild_ids = [1, 2]\n"
    )
    config = load_config(
        path,
        env={
            "KLING_BOT__STORAGE__RETENTION_DAYS": "3",
            "KLING_BOT__LOGGING__JSON": "off",
            "KLING_BOT__DISCORD__SYNC_GUILD_IDS": "[5, 6]",
        },
    )
    assert config.storage.retention_days == 3
    assert config.logging.json is False
    assert config.discord.sync_guild_ids == (5, 6)


def test_long_name_wins_over_the_short_one_and_empty_counts_as_unset() -> None:
    config = load_config(
        None,
        env={
            "DISCORD_TOKEN": "short-name-token",
            "KLING_BOT__DISCORD__TOKEN": "long-name-token",
            "KLING_BOT__KLING__CALLBACK_PORT": "",
        },
    )
    assert config.discord.token == Secret("long-name-token")
    assert config.kling.callback_port == 8090


def test_relative_paths_from_the_environment_are_relative_to_the_working_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "config.toml"
    path.write_text('[storage]\nmedia_dir = "media"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(path, env={"KLING_BOT__STORAGE__PATH": "data/bot.sqlite3"})
    assert config.storage.path == tmp_path / "data" / "bot.sqlite3"
    assert config.storage.media_dir == tmp_path / "etc" / "media"


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(
            None,
            env={
                "KLING_BOT__KLING__CALLBACK_PORT": "eighty",
                "KLING_BOT__STORAGE__RETENTION_DAYS": "0",
                "KLING_BOT__LOGGING__JSON": "maybe",
                "KLING_BOT__DISCORD__SYNC_GUILD_IDS": "12,abc",
                "KLING_BOT__LOGGING__LEVEL": "LOUD",
                "KLING_BOT__KLING__CALLBACK_BASE_URL": "http://bot.mydomain.net",
                "KLING_BOT__STORGE__PATH": "x",
                "KLING_BOT__KLING__API_KYE": "x",
            },
        )
    assert sorted(err.value.problems) == sorted(
        [
            "KLING_BOT__KLING__CALLBACK_PORT must be a whole number",
            "KLING_BOT__STORAGE__RETENTION_DAYS must be between 1 and 3650",
            "KLING_BOT__LOGGING__JSON must be true or false",
            "KLING_BOT__DISCORD__SYNC_GUILD_IDS must be a list of server ids (numbers)",
            "KLING_BOT__LOGGING__LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL",
            "KLING_BOT__KLING__CALLBACK_BASE_URL must be an https:// URL (plain http is accepted "
            "only for loopback hosts such as 127.0.0.1 or localhost)",
            "KLING_BOT__STORGE__PATH is not a setting: use KLING_BOT__<SECTION>__<KEY> with a key "
            "of config.example.toml, e.g. KLING_BOT__STORAGE__PATH",
            "KLING_BOT__KLING__API_KYE is not a setting: use KLING_BOT__<SECTION>__<KEY> with a key "  # noqa: E501
            "of config.example.toml, e.g. KLING_BOT__STORAGE__PATH",
        ]
    )


def test_the_example_documents_the_environment_names() -> None:
    text = EXAMPLE.read_text()
    assert "KLING_BOT__" in text and "KLING_PROVIDER" in text
    assert env_name("storage", "path") == "KLING_BOT__STORAGE__PATH"
    assert env_name("storage", "path") in text
