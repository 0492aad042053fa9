"""Personal picker links (SPEC §10): a signed token naming the member, the session and the
member's language, valid for ``[web] link_minutes``.

The token is a JWT signed with HMAC-SHA256 (PyJWT). Its claims are short on purpose: it travels
in URLs. The key comes from ``[web] signing_key`` or is generated once and kept in the database,
so links survive a restart and every process sharing the database accepts them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
# Says what the token is for, so no other HS256 token made with the same key can pass as one.
AUDIENCE = "kling-bot/picker"
KEY_NAME = "web_signing_key"
MAX_LOCALE_CHARS = 16


class BadTokenError(Exception):
    """Missing, malformed, tampered with, expired or for another session; ``reason`` is for logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PickerToken:
    member_id: int
    session_id: int
    locale: str | None
    expires_at: float


def new_signing_key() -> str:
    return secrets.token_urlsafe(48)


class TokenSigner:
    """Makes and checks picker tokens with one key; `clock` is unix seconds."""

    def __init__(
        self, key: str, *, lifetime_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        if len(key) < 32:
            raise ValueError("the picker's signing key must be at least 32 characters")
        self._key = key.encode()
        self.lifetime_s = lifetime_s
        self._clock = clock

    def __repr__(self) -> str:
        return "TokenSigner(key='********')"

    def now(self) -> float:
        return self._clock()

    def sign(self, *, member_id: int, session_id: int, locale: object = None) -> str:
        expires = int(self._clock() + self.lifetime_s)
        claims: dict[str, Any] = {
            "aud": AUDIENCE,
            "sub": str(member_id),
            "sid": session_id,
            "exp": expires,
        }
        if locale is not None and str(locale):
            claims["loc"] = str(locale)[:MAX_LOCALE_CHARS]
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str | None, *, session_id: int) -> PickerToken:
        """The token's claims, or BadTokenError when it is missing, forged, expired or was made
        for another session than the one the URL names."""
        if not token:
            raise BadTokenError("no token")
        try:
            # Expiry is checked here against our clock (PyJWT's own uses the real one).
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"verify_exp": False, "require": ["exp", "sub", "sid", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise BadTokenError(f"invalid token ({type(error).__name__})") from None
        try:
            member_id, sid, expires = int(claims["sub"]), int(claims["sid"]), float(claims["exp"])
        except (TypeError, ValueError):
            raise BadTokenError("malformed claims") from None
        if expires <= self._clock():
            raise BadTokenError("expired token")
        if sid != session_id:
            raise BadTokenError("token for another session")
        locale = claims.get("loc")
        return PickerToken(
            member_id=member_id,
            session_id=sid,
            locale=locale if isinstance(locale, str) else None,
            expires_at=expires,
        )
