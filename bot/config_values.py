"""Reading one configuration table's values: types, placeholders, URLs, secrets.

:mod:`bot.config` assembles the sections; this module turns raw TOML or environment values into
typed ones and records each problem as one sentence instead of raising.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit


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


class TableReader:
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
