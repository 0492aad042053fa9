import logging
from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_config, secret_values
from bot.logs import SecretScrubber

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_example_config_loads_and_documents_every_key() -> None:
    config = load_config(EXAMPLE, env={})
    assert config.kling.provider == "emulator"
    text = EXAMPLE.read_text()
    from bot.config import _KNOWN_KEYS

    for section, keys in _KNOWN_KEYS.items():
        assert f"[{section}]" in text
        for key in keys:
            assert f"{key} =" in text or f"# {key} =" in text, f"{section}.{key} undocumented"


def test_defaults_without_file_use_emulator_and_data_folder() -> None:
    config = load_config(None, env={})
    assert config.kling.provider == "emulator"
    assert config.storage.path.parent.name == "data"
    assert config.kling.poll_timeout_minutes == 60


def test_environment_secrets_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[discord]\ntoken = "file-token"\n[kling]\nprovider = "kling"\n')
    config = load_config(path, env={"DISCORD_TOKEN": "env-token", "KLING_API_KEY": "k-123"})
    assert config.discord.token == Secret("env-token")
    assert config.kling.api_key == Secret("k-123")
    assert config.problems_for_run() == []


def test_missing_token_and_credentials_are_each_named() -> None:
    config = load_config(None, env={"KLING_PROVIDER": "kling"})
    problems = config.problems_for_run()
    assert "no Discord token: set DISCORD_TOKEN or [discord] token" in problems
    assert any("no Kling credentials" in p for p in problems)


def test_access_and_secret_key_pair_is_enough_for_kling(tmp_path: Path) -> None:
    path = write(tmp_path, '[kling]\nprovider = "kling"\n')
    env = {"DISCORD_TOKEN": "t" * 20, "KLING_ACCESS_KEY": "ak", "KLING_SECRET_KEY": "sk"}
    assert load_config(path, env=env).problems_for_run() == []


def test_cometapi_needs_a_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[kling]\nprovider = "cometapi"\n')
    problems = load_config(path, env={"DISCORD_TOKEN": "t" * 20}).problems_for_run()
    assert problems == ["no CometAPI key: set KLING_API_KEY or [kling] api_key"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[discord]
api_base = "discord.example"
sync_guild_ids = ["abc"]
[kling]
provider = "openai"
poll_timeout_minutes = 0
[storage]
retention_days = "ten"
[logging]
level = "LOUD"
[extra]
x = 1
""",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    problems = err.value.problems
    assert "[discord] api_base must start with http:// or https://" in problems
    assert "[discord] sync_guild_ids must be a list of server ids (numbers)" in problems
    assert any(
        p.startswith("[kling] provider must be one of kling, cometapi, emulator") for p in problems
    )
    assert "[kling] poll_timeout_minutes must be between 1 and 1440" in problems
    assert "[storage] retention_days must be a whole number" in problems
    assert "[logging] level must be DEBUG, INFO, WARNING, ERROR or CRITICAL" in problems
    assert "unknown section [extra]" in problems
    assert len(problems) == 7


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[kling]\napi_kye = "oops"\n')
    with pytest.raises(ConfigError, match=r"unknown key \[kling\] api_kye"):
        load_config(path, env={})


def test_invalid_toml_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[kling\n"), env={})


def test_relative_storage_paths_resolve_next_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[storage]\npath = "db/bot.sqlite3"\nmedia_dir = "/abs/media"\n')
    config = load_config(path, env={})
    assert config.storage.path == tmp_path / "db" / "bot.sqlite3"
    assert config.storage.media_dir == Path("/abs/media")


def test_secrets_never_show_in_repr_or_errors(tmp_path: Path) -> None:
    token = "MTIzNDU2Nzg5.super-secret-token"
    path = write(
        tmp_path,
        f'[discord]\ntoken = "{token}"\n[kling]\nprovider = "kling"\n'
        'secret_key = "sk-very-secret"\naccess_key = "ak-id"\n',
    )
    config = load_config(path, env={})
    assert token not in repr(config) and "sk-very-secret" not in repr(config)
    assert token not in str(config.discord.token)
    assert secret_values(config) == [token, "ak-id", "sk-very-secret"]
    bad = write(tmp_path, "[kling]\napi_key = 12345678901\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad, env={})
    assert "12345678901" not in str(err.value)


def test_log_scrubber_removes_secrets_from_messages_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.scrub")
    scrubber = SecretScrubber(["sk-very-secret"])
    logger.addFilter(scrubber)
    try:
        with caplog.at_level(logging.INFO, logger="test.scrub"):
            logger.info("header was Bearer %s", "sk-very-secret")
            try:
                raise RuntimeError("failed with sk-very-secret")
            except RuntimeError:
                logger.exception("boom")
    finally:
        logger.removeFilter(scrubber)
    assert "sk-very-secret" not in caplog.text
    assert "Bearer [redacted]" in caplog.text
    assert "failed with [redacted]" in caplog.text


# -- SPEC §11: shards and the PostgreSQL URL ---------------------------------------------------


def test_shards_default_to_every_shard_in_one_process() -> None:
    config = load_config(None, env={})
    assert config.discord.shards.count is None
    assert config.discord.shards.owns(123 << 22)
    assert config.storage.url is None


def test_shard_ids_from_the_file_choose_this_processs_servers(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[discord]\nshard_count = 2\nshard_ids = [1]\n", encoding="utf-8")
    shards = load_config(path, env={}).discord.shards
    assert (shards.count, shards.ids) == (2, (1,))
    assert shards.owns(5 << 22) and not shards.owns(4 << 22)


def test_shards_from_the_environment() -> None:
    env = {"KLING_BOT__DISCORD__SHARD_COUNT": "4", "KLING_BOT__DISCORD__SHARD_IDS": "2,3"}
    shards = load_config(None, env=env).discord.shards
    assert (shards.count, shards.ids) == (4, (2, 3))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("shard_ids = [0]", "needs [discord] shard_count"),
        ("shard_count = 2\nshard_ids = [2]", "not shards of 2"),
        ("shard_count = 0", "shard_count must be between 1"),
        ('shard_count = 2\nshard_ids = "0"', "must be a list of shard numbers"),
    ],
)
def test_impossible_shards_are_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[discord]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert problem in str(caught.value)


def test_database_url_comes_from_database_url_and_is_never_echoed() -> None:
    url = "postgresql://kling:s3cret-pass@127.0.0.1:5432/kling"
    config = load_config(None, env={"DATABASE_URL": url})
    assert config.storage.url is not None and config.storage.url.reveal() == url
    assert "s3cret-pass" not in repr(config)


def test_a_database_url_that_is_not_postgresql_is_refused_without_echo() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, env={"DATABASE_URL": "mysql://root:hunter22@db/kling"})
    assert "DATABASE_URL must be a postgresql://" in str(caught.value)
    assert "hunter22" not in str(caught.value)


def test_the_database_password_is_among_the_secrets_logs_never_show() -> None:
    url = "postgresql://kling:p%40ss-w0rd@127.0.0.1:5432/kling"
    values = secret_values(load_config(None, env={"DATABASE_URL": url}))
    assert url in values
    assert "p%40ss-w0rd" in values and "p@ss-w0rd" in values
