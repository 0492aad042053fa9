"""Typed configuration from a TOML file plus environment variables (SPEC §9).

Secrets may come from the environment instead of the file; when both are set the environment
wins, so a deployment can keep the file in version control and inject secrets at run time.
Every problem is collected and reported at once, one sentence each, so an operator fixes the
whole file in one pass instead of one error per start.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Provider = Literal["kling", "cometapi", "emulator"]
PROVIDERS: tuple[Provider, ...] = ("kling", "cometapi", "emulator")

SECRET_ENV = {
    "DISCORD_TOKEN": ("discord", "token"),
    "KLING_API_KEY": ("kling", "api_key"),
    "KLING_ACCESS_KEY": ("kling", "access_key"),
    "KLING_SECRET_KEY": ("kling", "secret_key"),
    "KLING_WEBHOOK_SECRET": ("kling", "webhook_secret"),
}

DEFAULT_CONFIG_PATH = Path("config.toml")


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"- {p}" for p in problems))


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class DiscordConfig:
    token: Secret | None = None
    api_base: str | None = None
    sync_guild_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class KlingConfig:
    provider: Provider = "emulator"
    api_key: Secret | None = None
    access_key: Secret | None = None
    secret_key: Secret | None = None
    webhook_secret: Secret | None = None
    base_url: str | None = None
    callback_base_url: str | None = None
    callback_port: int = 8090
    poll_timeout_minutes: int = 60
    connect_timeout_seconds: float = 10.0
    request_timeout_seconds: float = 60.0


@dataclass(frozen=True)
class StorageConfig:
    path: Path = Path("data/kling-bot.sqlite3")
    media_dir: Path = Path("data/media")
    retention_days: int = 30


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    json: bool = False


@dataclass(frozen=True)
class Config:
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    kling: KlingConfig = field(default_factory=KlingConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def problems_for_run(self) -> list[str]:
        """What stops `kling-bot run` from starting, beyond what loading already checked."""
        problems: list[str] = []
        if not self.discord.token:
            problems.append("no Discord token: set DISCORD_TOKEN or [discord] token")
        k = self.kling
        if k.provider == "kling":
            has_pair = bool(k.access_key) and bool(k.secret_key)
            if not k.api_key and not has_pair:
                problems.append(
                    "no Kling credentials: set KLING_API_KEY (or [kling] api_key), or both "
                    "KLING_ACCESS_KEY and KLING_SECRET_KEY"
                )
            elif not k.api_key and bool(k.access_key) != bool(k.secret_key):
                problems.append("Kling access key and secret key must be set together")
        elif k.provider == "cometapi" and not k.api_key:
            problems.append("no CometAPI key: set KLING_API_KEY or [kling] api_key")
        return problems


_KNOWN_KEYS: dict[str, set[str]] = {
    "discord": {"token", "api_base", "sync_guild_ids"},
    "kling": {
        "provider", "api_key", "access_key", "secret_key", "webhook_secret", "base_url",
        "callback_base_url", "callback_port", "poll_timeout_minutes", "connect_timeout_seconds",
        "request_timeout_seconds",
    },
    "storage": {"path", "media_dir", "retention_days"},
    "logging": {"level", "json"},
}


class _Reader:
    """Reads typed values out of one TOML table, recording problems instead of raising."""

    def __init__(self, section: str, table: Mapping[str, Any], problems: list[str]) -> None:
        self.section = section
        self.table = table
        self.problems = problems

    def _where(self, key: str) -> str:
        return f"[{self.section}] {key}"

    def string(self, key: str) -> str | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problems.append(f"{self._where(key)} must be a string")
            return None
        return value.strip() or None

    def secret(self, key: str) -> Secret | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            # Do not echo the value: it may be a mistyped secret.
            self.problems.append(f"{self._where(key)} must be a string")
            return None
        return Secret(value.strip()) if value.strip() else None

    def url(self, key: str) -> str | None:
        value = self.string(key)
        if value is not None and not value.startswith(("http://", "https://")):
            self.problems.append(f"{self._where(key)} must start with http:// or https://")
            return None
        return value.rstrip("/") if value else None

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        return self._ranged(key, default, low, high, (int, float), "a number")

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        return self._ranged(key, default, low, high, (int,), "a whole number")

    def _ranged(self, key: str, default: Any, low: float, high: float,
                types: tuple[type, ...], what: str) -> Any:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, types):
            self.problems.append(f"{self._where(key)} must be {what}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{self._where(key)} must be between {low:g} and {high:g}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"{self._where(key)} must be true or false")
            return default
        return value

    def path(self, key: str, default: Path, base: Path) -> Path:
        value = self.string(key)
        path = Path(value).expanduser() if value else default
        return path if path.is_absolute() else base / path


def load_config(
    path: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load `path` (optional) and the secret environment variables; raise ConfigError."""
    env = os.environ if env is None else env
    problems: list[str] = []
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError([f"config file {path} does not exist"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"config file {path} is not valid TOML: {exc}"]) from None
        base = path.resolve().parent

    for section, value in data.items():
        if section not in _KNOWN_KEYS:
            problems.append(f"unknown section [{section}]")
        elif not isinstance(value, dict):
            problems.append(f"[{section}] must be a table")
        else:
            for key in value:
                if key not in _KNOWN_KEYS[section]:
                    problems.append(f"unknown key [{section}] {key}")

    def table(name: str) -> dict[str, Any]:
        value = data.get(name, {})
        merged = dict(value) if isinstance(value, dict) else {}
        for env_name, (env_section, key) in SECRET_ENV.items():
            if env_section == name and env.get(env_name, "").strip():
                merged[key] = env[env_name]
        return merged

    d = _Reader("discord", table("discord"), problems)
    guild_ids = d.table.get("sync_guild_ids", [])
    if not isinstance(guild_ids, list) or not all(
        isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in guild_ids
    ):
        problems.append("[discord] sync_guild_ids must be a list of server ids (numbers)")
        guild_ids = []
    discord_cfg = DiscordConfig(
        token=d.secret("token"), api_base=d.url("api_base"), sync_guild_ids=tuple(guild_ids)
    )

    k = _Reader("kling", table("kling"), problems)
    provider = k.string("provider") or "emulator"
    if provider not in PROVIDERS:
        problems.append(f"[kling] provider must be one of {', '.join(PROVIDERS)}, not {provider!r}")
        provider = "emulator"
    kling_cfg = KlingConfig(
        provider=provider,  # type: ignore[arg-type]
        api_key=k.secret("api_key"),
        access_key=k.secret("access_key"),
        secret_key=k.secret("secret_key"),
        webhook_secret=k.secret("webhook_secret"),
        base_url=k.url("base_url"),
        callback_base_url=k.url("callback_base_url"),
        callback_port=k.integer("callback_port", 8090, low=1, high=65535),
        poll_timeout_minutes=k.integer("poll_timeout_minutes", 60, low=1, high=24 * 60),
        connect_timeout_seconds=k.number("connect_timeout_seconds", 10.0, low=0.1, high=300),
        request_timeout_seconds=k.number("request_timeout_seconds", 60.0, low=1, high=3600),
    )

    s = _Reader("storage", table("storage"), problems)
    storage_cfg = StorageConfig(
        path=s.path("path", StorageConfig.path, base),
        media_dir=s.path("media_dir", StorageConfig.media_dir, base),
        retention_days=s.integer("retention_days", 30, low=1, high=3650),
    )

    lg = _Reader("logging", table("logging"), problems)
    level = (lg.string("level") or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        problems.append("[logging] level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        level = "INFO"
    logging_cfg = LoggingConfig(level=level, json=lg.boolean("json", False))

    if problems:
        raise ConfigError(problems)
    return Config(discord_cfg, kling_cfg, storage_cfg, logging_cfg)


def secret_values(config: Config) -> list[str]:
    """Every configured secret, for scrubbing logs and for tests that grep for leaks."""
    found = [
        config.discord.token,
        config.kling.api_key,
        config.kling.access_key,
        config.kling.secret_key,
        config.kling.webhook_secret,
    ]
    return [s.reveal() for s in found if s]
