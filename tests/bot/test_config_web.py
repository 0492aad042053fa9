"""[web] (SPEC §10): the picker's public URL, the one server's port, and the older [kling] names."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_config, secret_values


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_leave_the_picker_off() -> None:
    config = load_config(None, env={})
    assert config.web.public_url is None
    assert (config.web.host, config.web.port, config.web.link_minutes) == ("0.0.0.0", 8090, 30)  # noqa: S104
    assert config.kling.callback_base_url is None


def test_public_url_also_receives_kling_callbacks(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[web]\npublic_url = "https://bot.mydomain.net/"\nport = 9001\n'), env={}
    )
    assert config.web.public_url == "https://bot.mydomain.net"
    assert config.kling.callback_base_url == "https://bot.mydomain.net"
    assert config.kling.callback_port == 9001


def test_older_callback_names_map_onto_web(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[kling]\ncallback_base_url = "https://cb.mydomain.net"\ncallback_port = 9200\n',
        ),
        env={},
    )
    assert config.web.public_url == "https://cb.mydomain.net"
    assert config.web.port == 9200
    assert config.kling.callback_port == 9200


def test_callbacks_may_use_their_own_address(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[kling]\ncallback_base_url = "https://cb.mydomain.net"'
            '\n[web]\npublic_url = "https://pick.mydomain.net"\n',
        ),
        env={},
    )
    assert config.web.public_url == "https://pick.mydomain.net"
    assert config.kling.callback_base_url == "https://cb.mydomain.net"


def test_two_different_ports_for_the_one_server_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "[kling]\ncallback_port = 9200\n[web]\nport = 9300\n"), env={})
    assert caught.value.problems == [
        "[kling] callback_port and [web] port differ: one web server serves the picker and "
        "Kling's callbacks, so set only [web] port"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('public_url = "http://bot.mydomain.net"', "[web] public_url must be an https:// URL"),
        ('public_url = "bot.mydomain.net"', "[web] public_url must start with http:// or https://"),
        ("link_minutes = 0", "[web] link_minutes must be between 1 and 1440"),
        ('port = "eighty"', "[web] port must be a whole number"),
    ],
)
def test_bad_web_values_are_named(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"[web]\n{text}\n"), env={})
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_loopback_http_is_accepted_and_the_key_is_a_secret(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[web]\npublic_url = "http://127.0.0.1:8090"\n'),
        env={"KLING_BOT__WEB__SIGNING_KEY": "a-long-signing-key-0042"},
    )
    assert config.web.public_url == "http://127.0.0.1:8090"
    assert config.web.signing_key == Secret("a-long-signing-key-0042")
    assert "a-long-signing-key-0042" not in repr(config)
    assert "a-long-signing-key-0042" in secret_values(config)
