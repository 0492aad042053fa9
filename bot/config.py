"""Typed configuration from a TOML file plus environment variables (SPEC §9).

Every key may come from the environment instead of the file (``KLING_BOT__SECTION__KEY``, and the
short names such as ``DISCORD_TOKEN``: see :mod:`bot.config_sources`); the environment wins, so a
deployment can keep the file in version control and inject secrets at run time.
Every problem is collected and reported at once, one sentence each, so an operator fixes the
whole file in one pass instead of one error per start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from bot.config_sources import SCHEMA, SHORT_ENV, read_toml_file, settings_from_env
from bot.config_values import (
    Secret,
    TableReader,
)
from bot.shards import ShardSet

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


@dataclass(frozen=True)
class DiscordConfig:
    token: Secret | None = None
    api_base: str | None = None
    sync_guild_ids: tuple[int, ...] = ()
    # This process's shards (SPEC §11); unset: every shard, as many as Discord recommends.
    shards: ShardSet = field(default_factory=ShardSet)


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
    # postgresql://user:password@host:port/db (SPEC §11); None: the SQLite file at ``path``.
    url: Secret | None = None
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

    def reader(name: str) -> TableReader:
        value = data.get(name, {})
        merged = dict(value) if isinstance(value, dict) else {}
        origins = {}
        for (section, key), setting in from_env.values.items():
            if section == name:
                merged[key] = setting
                origins[key] = from_env.origins[(section, key)]
        return TableReader(name, merged, problems, origins)

    d = reader("discord")
    guild_ids = d.table.get("sync_guild_ids", [])
    if not isinstance(guild_ids, list) or not all(
        isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in guild_ids
    ):
        problems.append(f"{d.where('sync_guild_ids')} must be a list of server ids (numbers)")
        guild_ids = []
    discord_cfg = DiscordConfig(
        token=d.secret("token"),
        api_base=d.url("api_base"),
        sync_guild_ids=tuple(guild_ids),
        shards=_shard_set(d, problems),
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
        url=_database_url(s, problems),
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


def _shard_set(d: TableReader, problems: list[str]) -> ShardSet:
    """[discord] shard_count and shard_ids; problems name the key (or its variable)."""
    count: int | None = None
    if "shard_count" in d.table:
        count = d.integer("shard_count", 0, low=1, high=100_000) or None
    ids_value = d.table.get("shard_ids")
    ids: tuple[int, ...] | None = None
    if ids_value is not None:
        if not isinstance(ids_value, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids_value
        ):
            problems.append(f"{d.where('shard_ids')} must be a list of shard numbers")
            return ShardSet(count)
        ids = tuple(ids_value)
        if count is None and "shard_count" not in d.table:
            problems.append(
                f"{d.where('shard_ids')} needs [discord] shard_count: the ids are shards of it"
            )
            return ShardSet()
    if count is None:
        return ShardSet()
    try:
        return ShardSet(count, ids)
    except ValueError as error:
        problems.append(f"{d.where('shard_ids')}: {error}")
        return ShardSet(count)


def _database_url(s: TableReader, problems: list[str]) -> Secret | None:
    """[storage] url / DATABASE_URL: a PostgreSQL URL (it carries a password: never echoed)."""
    url = s.secret("url")
    if url is not None and not url.reveal().startswith(("postgresql://", "postgres://")):
        problems.append(
            f"{s.where('url')} must be a postgresql://user:password@host:port/database URL "
            "(leave it out to use the SQLite file at [storage] path)"
        )
        return None
    return url


def _web_config(
    w: TableReader, k: TableReader, kling: KlingConfig, problems: list[str]
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
    values = [s.reveal() for s in found if s]
    if config.storage.url is not None:
        # The whole URL, and its password alone (drivers quote it in their own messages).
        url = config.storage.url.reveal()
        values.append(url)
        password = urlsplit(url).password
        if password:
            values += sorted({password, unquote(password)})
    return values
