"""Where settings come from: the list of keys, the TOML file and the environment (SPEC §9).

Every key can be set from the environment as ``KLING_BOT__<SECTION>__<KEY>`` (double
underscores, any case), e.g. ``KLING_BOT__STORAGE__PATH`` or ``KLING_BOT__KLING__PROVIDER``. The
text is turned into the key's type here: whole numbers and numbers as written, booleans as
``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``), lists of server ids as
``123,456`` or a TOML array ``[123, 456]``. Text that does not parse is passed on unchanged so
the reader reports it, naming the variable. The short names in :data:`SHORT_ENV` keep working;
when both forms are set the ``KLING_BOT__`` one wins, and the environment wins over the file.
An empty variable counts as unset (compose files often pass ``KEY=${KEY}`` with nothing in it).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["str", "secret", "url", "int", "float", "bool", "path", "int_list"]

# Every key of the file, by section, with the type an environment value is parsed to.
SCHEMA: dict[str, dict[str, Kind]] = {
    "discord": {
        "token": "secret",
        "api_base": "url",
        "sync_guild_ids": "int_list",
        "shard_count": "int",
        "shard_ids": "int_list",
    },
    "kling": {
        "provider": "str",
        "api_key": "secret",
        "access_key": "secret",
        "secret_key": "secret",
        "webhook_secret": "secret",
        "base_url": "url",
        "callback_base_url": "url",
        "callback_port": "int",
        "poll_timeout_minutes": "int",
        "connect_timeout_seconds": "float",
        "request_timeout_seconds": "float",
    },
    "storage": {"path": "path", "url": "secret", "media_dir": "path", "retention_days": "int"},
    "web": {
        "public_url": "url",
        "host": "str",
        "port": "int",
        "link_minutes": "int",
        "signing_key": "secret",
    },
    "logging": {"level": "str", "json": "bool"},
}

ENV_PREFIX = "KLING_BOT__"

# The short names documented since the first release, for the keys people set most.
SHORT_ENV: dict[str, tuple[str, str]] = {
    "DISCORD_TOKEN": ("discord", "token"),
    "KLING_API_KEY": ("kling", "api_key"),
    "KLING_ACCESS_KEY": ("kling", "access_key"),
    "KLING_SECRET_KEY": ("kling", "secret_key"),
    "KLING_WEBHOOK_SECRET": ("kling", "webhook_secret"),
    "KLING_PROVIDER": ("kling", "provider"),
    "DATABASE_URL": ("storage", "url"),
}

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_name(section: str, key: str) -> str:
    """The ``KLING_BOT__`` variable of a key: ``env_name("storage", "path")``."""
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


@dataclass
class EnvSettings:
    """Settings found in the environment, with the variable each one came from."""

    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def parse_env_value(kind: Kind, text: str) -> Any:
    """`text` as the key's type; unchanged when it does not parse (the reader names it)."""
    value = text.strip()
    if kind == "int":
        try:
            return int(value, 10)
        except ValueError:
            return value
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "bool":
        lowered = value.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else value
    if kind == "int_list":
        return _int_list(value)
    # Secrets keep their exact text (the reader strips them); the rest is stripped here.
    return text if kind == "secret" else value


def _int_list(value: str) -> Any:
    if value.startswith("["):
        try:
            return tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            return value
    try:
        return [int(part.strip(), 10) for part in value.split(",") if part.strip()]
    except ValueError:
        return value


def settings_from_env(env: Mapping[str, str]) -> EnvSettings:
    found = EnvSettings()
    for name, (section, key) in SHORT_ENV.items():
        text = env.get(name, "")
        if text.strip():
            found.values[(section, key)] = parse_env_value(SCHEMA[section][key], text)
            found.origins[(section, key)] = name
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or parts[1] not in SCHEMA.get(parts[0], {}):
            found.problems.append(
                f"{name} is not a setting: use {ENV_PREFIX}<SECTION>__<KEY> with a key of "
                "config.example.toml, e.g. KLING_BOT__STORAGE__PATH"
            )
            continue
        section, key = parts
        text = env[name]
        if text.strip():
            found.values[(section, key)] = parse_env_value(SCHEMA[section][key], text)
            found.origins[(section, key)] = name
    return found


def read_toml_file(path: Path) -> dict[str, Any]:
    """The file's tables; ConfigError-ready problems as ValueError, one line, no traceback."""
    where = f"config file {path}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise ValueError(
            f"{where} is a folder, not a file: give the path of a .toml file"
        ) from None
    except PermissionError:
        raise ValueError(
            f"{where} cannot be read (permission denied): let the bot's user read it"
        ) from None
    except OSError as error:
        raise ValueError(f"{where} cannot be read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{where} is not UTF-8 text (byte 0x{raw[error.start]:02x} on line "
            f"{line}): save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        detail = " ".join(str(error).split())
        raise ValueError(f"{where} is not valid TOML: {detail}") from None
