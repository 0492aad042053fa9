"""Typed configuration from a TOML file plus environment variables (SPEC §9).

Every key may come from the environment instead of the file (``KLING_BOT__SECTION__KEY``, and the
short names such as ``DISCORD_TOKEN``: see :mod:`bot.config_sources`); the environment wins, so a
deployment can keep the file in version control and inject secrets at run time.
Every problem is collected and reported at once, one sentence each, so an operator fixes the
whole file in one pass instead of one error per start.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from bot.config_sources import SCHEMA, SHORT_ENV, read_toml_file, settings_from_env

Provider = Literal["kling", "cometapi", "emulator"]
PROVIDERS: tuple[Provider, ...] = ("kling", "cometapi", "emulator")

SECRET_ENV = {
    name: where for name, where in SHORT_ENV.items() if SCHEMA[where[0]][where[1]] == "secret"
}

DEFAULT_CONFIG_PATH = Path("config.toml")


class StartupError(Exception):
    """The bot cannot start; `problems` holds one sentence per problem (exit status 2)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"- {p}" for p in problems))


class ConfigError(StartupError):
    """The configuration cannot be used."""


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
class WebConfig:
    """The bot's one web server (SPEC §10): the picker page and Kling's callback endpoint.

    ``public_url`` is where people and Kling reach it (None: no picker links); the older
    ``[kling] callback_base_url`` and ``callback_port`` fill in ``public_url`` and ``port``.
    ``signing_key`` signs picker links; unset, one is generated once and kept in the database.
    """

    public_url: str | None = None
    host: str = "0.0.0.0"  # noqa: S104 - behind a reverse proxy or a container port
    port: int = 8090
    link_minutes: int = 30
    signing_key: Secret | None = None


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
    web: WebConfig = field(default_factory=WebConfig)

    def problems_for_run(self) -> list[str]:
        """What stops `kling-bot run` from starting, beyond what loading already checked."""
        problems: list[str] = []
        if not self.discord.token:
            problems.append("no Discord token: set DISCORD_TOKEN or [discord] token")
        k = self.kling
        if k.provider == "kling":
            if k.access_key and not k.secret_key:
                problems.append(
                    "Kling access key is set but its secret key is not: set KLING_SECRET_KEY "
                    "(or [kling] secret_key) too, or use an API key alone"
                )
            elif k.secret_key and not k.access_key:
                problems.append(
                    "Kling secret key is set but its access key is not: set KLING_ACCESS_KEY "
                    "(or [kling] access_key) too, or use an API key alone"
                )
            elif not k.api_key and not k.access_key:
                problems.append(
                    "no Kling credentials: set KLING_API_KEY (or [kling] api_key), or both "
                    "KLING_ACCESS_KEY and KLING_SECRET_KEY"
                )
        elif k.provider == "cometapi" and not k.api_key:
            problems.append("no CometAPI key: set KLING_API_KEY or [kling] api_key")
        return problems


_KNOWN_KEYS: dict[str, set[str]] = {section: set(keys) for section, keys in SCHEMA.items()}

# Values people leave in from an example or a template (compared lower-case, with everything
# but letters and digits removed): never a real token or key.
_PLACEHOLDER_WORDS = {
    "",
    "changeme",
    "replaceme",
    "placeholder",
    "todo",
    "fixme",
    "secret",
    "token",
    "key",
    "apikey",
    "accesskey",
    "secretkey",
    "bottoken",
    "discordtoken",
    "none",
    "null",
    "xxx",
    "webhooksecret",
    "whsec",
    "whsecxxx",
    "insertherethetoken",
}
_PLACEHOLDER_PATTERNS = (
    re.compile(r"^(your|my|insert|put|paste|enter)[\W_]", re.IGNORECASE),  # YOUR_TOKEN, your-key
    re.compile(r"^<.*>$"),  # <token>
    re.compile(r"^\$\{?\w+\}?$"),  # ${DISCORD_TOKEN}: a variable nobody expanded
    re.compile(r"^[x*.…_-]+$", re.IGNORECASE),  # ..., ***, xxxx
)
_EXAMPLE_HOST = re.compile(r"(^|\.)example\.(com|org|net)$")
_N = TypeVar("_N", int, float)


def looks_like_placeholder(value: str) -> bool:
    """True for template values such as ``...``, ``YOUR_TOKEN`` or ``changeme``."""
    text = value.strip()
    return re.sub(r"[^a-z0-9]", "", text.lower()) in _PLACEHOLDER_WORDS or any(
        p.search(text) for p in _PLACEHOLDER_PATTERNS
    )


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Reader:
    """Reads typed values out of one TOML table, recording problems instead of raising."""

    def __init__(
        self,
        section: str,
        table: Mapping[str, Any],
        problems: list[str],
        origins: Mapping[str, str] | None = None,
    ) -> None:
        self.section = section
        self.table = table
        self.problems = problems
        # key -> the environment variable its value came from (problems name the variable)
        self.origins = origins or {}

    def where(self, key: str) -> str:
        return self.origins.get(key) or f"[{self.section}] {key}"

    def _text(self, key: str) -> str | None:
        """The key's raw string, or None when it is missing or not a string (a problem then,
        which never echoes the value: it may be a mistyped secret)."""
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problems.append(f"{self.where(key)} must be a string")
            return None
        return value

    def string(self, key: str) -> str | None:
        value = self._text(key)
        return (value.strip() or None) if value is not None else None

    def secret(self, key: str) -> Secret | None:
        value = self._text(key)
        if value is None:
            return None
        if value.strip() and looks_like_placeholder(value):
            # Not echoed either: the check could be wrong about a real secret.
            self.problems.append(
                f"{self.where(key)} looks like a placeholder, not a real "
                "value: put the real one there, or leave it out"
            )
            return None
        return Secret(value.strip()) if value.strip() else None

    def url(self, key: str, *, https_only: bool = True) -> str | None:
        """An http(s) URL; plain http only for loopback hosts unless `https_only` is False
        (secrets and callbacks must not cross a network unencrypted)."""
        value = self.string(key)
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            self.problems.append(f"{self.where(key)} must start with http:// or https://")
            return None
        host = urlsplit(value).hostname or ""
        if not host:
            self.problems.append(f"{self.where(key)} has no host name")
            return None
        if _EXAMPLE_HOST.search(host):
            self.problems.append(
                f"{self.where(key)} still points at the example host {host}: "
                "put your own address there, or leave it out"
            )
            return None
        if https_only and value.startswith("http://") and not is_loopback_host(host):
            self.problems.append(
                f"{self.where(key)} must be an https:// URL (plain http is "
                "accepted only for loopback hosts such as 127.0.0.1 or "
                "localhost)"
            )
            return None
        return value.rstrip("/")

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        return self._ranged(key, default, low, high, (int, float), "a number")

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        return self._ranged(key, default, low, high, (int,), "a whole number")

    def _ranged(
        self, key: str, default: _N, low: float, high: float, types: tuple[type[_N], ...], what: str
    ) -> _N:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, types):
            self.problems.append(f"{self.where(key)} must be {what}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{self.where(key)} must be between {low:g} and {high:g}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"{self.where(key)} must be true or false")
            return default
        return value

    def path(self, key: str, default: Path, base: Path) -> Path:
        value = self.string(key)
        path = Path(value).expanduser() if value else default
        # A relative path from the environment is relative to where the bot was started.
        base = Path.cwd() if key in self.origins else base
        return path if path.is_absolute() else base / path


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load `path` (optional) and the environment (which wins); raise ConfigError."""
    env = os.environ if env is None else env
    problems: list[str] = []
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            data = read_toml_file(path)
        except ValueError as error:
            raise ConfigError([str(error)]) from None
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

    from_env = settings_from_env(env)
    problems.extend(from_env.problems)

    def reader(name: str) -> _Reader:
        value = data.get(name, {})
        merged = dict(value) if isinstance(value, dict) else {}
        origins = {}
        for (section, key), setting in from_env.values.items():
            if section == name:
                merged[key] = setting
                origins[key] = from_env.origins[(section, key)]
        return _Reader(name, merged, problems, origins)

    d = reader("discord")
    guild_ids = d.table.get("sync_guild_ids", [])
    if not isinstance(guild_ids, list) or not all(
        isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in guild_ids
    ):
        problems.append(f"{d.where('sync_guild_ids')} must be a list of server ids (numbers)")
        guild_ids = []
    discord_cfg = DiscordConfig(
        token=d.secret("token"), api_base=d.url("api_base"), sync_guild_ids=tuple(guild_ids)
    )

    k = reader("kling")
    api_key, access_key, secret_key = (
        k.secret(key) for key in ("api_key", "access_key", "secret_key")
    )
    # With credentials and no provider named, the operator means Kling: silently using the
    # emulator would hand members imitation edits.
    provider = (k.string("provider") or "").lower() or (
        "kling" if api_key or access_key or secret_key else "emulator"
    )
    if provider not in PROVIDERS:
        problems.append(
            f"{k.where('provider')} must be one of {', '.join(PROVIDERS)}, not {provider!r}"
        )
        provider = "emulator"
    kling_cfg = KlingConfig(
        provider=provider,  # type: ignore[arg-type]
        api_key=api_key,
        access_key=access_key,
        secret_key=secret_key,
        webhook_secret=k.secret("webhook_secret"),
        # The emulator holds no secrets: it may live on another host of a private network.
        base_url=k.url("base_url", https_only=provider != "emulator"),
        callback_base_url=k.url("callback_base_url"),
        callback_port=k.integer("callback_port", 8090, low=1, high=65535),
        poll_timeout_minutes=k.integer("poll_timeout_minutes", 60, low=1, high=24 * 60),
        connect_timeout_seconds=k.number("connect_timeout_seconds", 10.0, low=0.1, high=300),
        request_timeout_seconds=k.number("request_timeout_seconds", 60.0, low=1, high=3600),
    )

    s = reader("storage")
    storage_cfg = StorageConfig(
        path=s.path("path", StorageConfig.path, base),
        media_dir=s.path("media_dir", StorageConfig.media_dir, base),
        retention_days=s.integer("retention_days", 30, low=1, high=3650),
    )

    lg = reader("logging")
    level = (lg.string("level") or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        problems.append(f"{lg.where('level')} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        level = "INFO"
    logging_cfg = LoggingConfig(level=level, json=lg.boolean("json", False))

    web_cfg, kling_cfg = _web_config(reader("web"), k, kling_cfg, problems)

    if problems:
        raise ConfigError(problems)
    return Config(discord_cfg, kling_cfg, storage_cfg, logging_cfg, web_cfg)


def _web_config(
    w: _Reader, k: _Reader, kling: KlingConfig, problems: list[str]
) -> tuple[WebConfig, KlingConfig]:
    """[web], with the older [kling] callback_base_url / callback_port mapped onto it: one web
    server serves both, so one port; callbacks default to the public URL."""
    public_url = w.url("public_url") or kling.callback_base_url
    port = w.integer("port", 8090, low=1, high=65535)
    if "callback_port" in k.table:
        if "port" in w.table and kling.callback_port != port:
            problems.append(
                f"{k.where('callback_port')} and {w.where('port')} differ: one web "
                f"server serves the picker and Kling's callbacks, so set only "
                f"{w.where('port')}"
            )
        elif "port" not in w.table:
            port = kling.callback_port
    host = w.string("host") or WebConfig.host
    web = WebConfig(
        public_url=public_url,
        host=host,
        port=port,
        link_minutes=w.integer("link_minutes", 30, low=1, high=24 * 60),
        signing_key=w.secret("signing_key"),
    )
    callbacks = kling.callback_base_url or public_url
    return web, replace(kling, callback_base_url=callbacks, callback_port=port)


def secret_values(config: Config) -> list[str]:
    """Every configured secret, for scrubbing logs and for tests that grep for leaks."""
    found = [
        config.discord.token,
        config.kling.api_key,
        config.kling.access_key,
        config.kling.secret_key,
        config.kling.webhook_secret,
        config.web.signing_key,
    ]
    return [s.reveal() for s in found if s]
