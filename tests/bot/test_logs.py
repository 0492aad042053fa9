"""The log scrubber redacts every Kling JWT the bot ever minted, not only the current one."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.kling.auth import KlingProvider
from bot.kling.errors import AuthError
from bot.logs import REDACTED, SecretScrubber, redact_jwts

ACCESS_KEY = "ak-test-0001"
SECRET_KEY = "sk-test-secret-0001-with-32-bytes-or-more"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _token(provider: KlingProvider) -> str:
    return provider.auth_headers()["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def log_text() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler scrubs as `configure_logging` sets it up (configured secrets)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(SecretScrubber([ACCESS_KEY, SECRET_KEY]))
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.logs.jwt")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_jwt_from_before_a_renewal_is_redacted_in_messages_and_tracebacks(
    log_text: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = log_text
    clock = FakeClock(1_700_000_000.0)
    provider = KlingProvider(access_key=ACCESS_KEY, secret_key=SECRET_KEY, clock=clock)
    old = _token(provider)
    clock.now += 60
    assert provider.renew()
    new = _token(provider)
    assert old != new and old not in provider.secrets()

    logger.error("Kling echoed the header: Authorization: Bearer %s", old)
    error = AuthError(f"token {old} is expired", code=1004, http_status=401)
    error.redact(provider.secrets())  # what the transport does: it knows only today's token
    try:
        raise error
    except AuthError:
        logger.exception("create failed with %s", new)

    text = out.getvalue()
    assert old not in text and new not in text
    assert f"Bearer {REDACTED}" in text and f"create failed with {REDACTED}" in text
    assert f"token {REDACTED} is expired" in text  # the traceback line is scrubbed too
    assert SECRET_KEY not in text


def test_jwt_shapes_are_redacted_and_ordinary_text_is_not() -> None:
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhIn0.c2lnbmF0dXJlX2J5dGVz"
    assert redact_jwts(f"url?token={jwt_like}&x=1") == f"url?token={REDACTED}&x=1"
    assert redact_jwts(f"({jwt_like}).") == f"({REDACTED})."
    for plain in ("version 1.2.3", "eyJ alone", "job eyJob.done", "file.tar.gz"):
        assert redact_jwts(plain) == plain


def test_with_no_configured_secret_jwts_are_still_redacted() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(SecretScrubber([]))
    logger = logging.getLogger("test.logs.none")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        provider = KlingProvider(
            access_key=ACCESS_KEY, secret_key=SECRET_KEY, clock=FakeClock(1_700_000_000.0)
        )
        token = _token(provider)
        logger.warning("sent %s", token)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert token not in out.getvalue() and REDACTED in out.getvalue()


def test_an_old_jwt_echoed_by_kling_is_redacted_in_the_error_itself() -> None:
    clock = FakeClock(1_700_000_000.0)
    provider = KlingProvider(access_key=ACCESS_KEY, secret_key=SECRET_KEY, clock=clock)
    old = _token(provider)
    clock.now += 60
    provider.renew()
    _token(provider)
    error = AuthError(f"token {old} is expired", code=1004, http_status=401)
    error.redact(provider.secrets())  # today's secrets only, as the transport passes them
    assert old not in str(error) and old not in error.kling_message
    assert error.kling_message == f"token {REDACTED} is expired"
