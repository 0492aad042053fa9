"""Logging set-up: levels, optional JSON lines, and scrubbing of secrets.

Scrubbing is a last line of defence: code should never log a secret in the first place, but a
third-party library's debug output (a URL with a token, a header dump) must not leak one either.
Configured secrets are replaced wherever they appear, and so is anything shaped like a JWT: the
bot mints a new Kling JWT every half hour, and an error may echo one minted long ago, which no
list of "current" secrets still holds.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable

REDACTED = "[redacted]"
# A compact JWS: base64url JSON header (always `{"` -> `eyJ`), payload and signature, dot-joined.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Attributes every LogRecord has; anything else came from `extra=` and is a structured field.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The `extra=` fields of a record (e.g. job_id, guild_id), for structured output."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


def redact_jwts(text: str) -> str:
    """`text` with every JWT-shaped string replaced by a marker, whoever minted it and when."""
    return _JWT.sub(REDACTED, text) if "eyJ" in text else text


class SecretScrubber(logging.Filter):
    """Replaces every configured secret, and every JWT, in a record's final text with a marker."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return redact_jwts(text)

    def filter(self, record: logging.LogRecord) -> bool:
        # Always on, even with no configured secret: JWTs are minted at run time.
        message = self.scrub(record.getMessage())
        record.msg, record.args = message, None
        for key, value in extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, self.scrub(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str | int | float] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value if isinstance(value, int | float | bool) else str(value))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "INFO", *, json_lines: bool = False, secrets: Iterable[str] = ()
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SecretScrubber(secrets))
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py's gateway chatter at DEBUG drowns everything else.
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
