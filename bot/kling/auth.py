"""Providers: where Kling lives and how to prove who we are (reference §1.2, §7).

- ``kling``: the official API. An API key is sent as ``Bearer <key>``; otherwise an access key +
  secret key pair is turned into an HS256 JWT ``{iss, exp=now+1800, nbf=now-5}``, cached, and
  re-made ~5 minutes before it expires or when Kling says it is stale (1000/1003/1004).
  When both an API key and a key pair are configured, the API key wins: it cannot expire and
  cannot fail on clock skew.
- ``cometapi``: a static Bearer key; every official path is served under ``/kling``.
- ``emulator``: the local emulator; no credentials, but a placeholder Bearer header, because an
  emulator served on its own refuses requests without one, as Kling does.

No provider ever puts a secret into ``repr`` or ``str``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import jwt

KLING_BASE_URL = "https://api-singapore.klingai.com"
COMETAPI_BASE_URL = "https://api.cometapi.com"
# What the emulator provider sends as its Bearer token: not a secret, the emulator takes any.
EMULATOR_TOKEN = "kling-bot-emulator"  # noqa: S105 (a fixed, public placeholder)

Clock = Callable[[], float]


class Provider(Protocol):
    """What the client needs from a provider."""

    name: str
    base_url: str
    path_prefix: str

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate one request (may mint a new token)."""
        ...

    def renew(self) -> bool:
        """Drop any cached token; True if a new one will differ (so a retry makes sense)."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this provider may send or hold, for log/exception redaction."""
        ...


class JwtSigner:
    """Mints and caches the legacy AK/SK token."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        clock: Clock = time.time,
        ttl_seconds: int = 1800,
        not_before_skew: int = 5,
        renew_margin: int = 300,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("both access_key and secret_key are required for a Kling JWT")
        if renew_margin >= ttl_seconds:
            raise ValueError("renew_margin must be shorter than the token lifetime")
        self._access_key = access_key
        self._secret_key = secret_key
        self._clock = clock
        self._ttl = ttl_seconds
        self._skew = not_before_skew
        self._margin = renew_margin
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> str:
        now = self._clock()
        if self._token is None or now >= self._expires_at - self._margin:
            issued = int(now)
            payload = {
                "iss": self._access_key,
                "exp": issued + self._ttl,
                "nbf": issued - self._skew,
            }
            self._token = jwt.encode(
                payload, self._secret_key, algorithm="HS256", headers={"typ": "JWT"}
            )
            self._expires_at = float(issued + self._ttl)
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._secret_key, self._token) if s)

    def __repr__(self) -> str:
        return "JwtSigner(access_key=<set>, secret_key=<hidden>)"


class KlingProvider:
    name = "kling"
    path_prefix = ""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        base_url: str | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.base_url = (base_url or KLING_BASE_URL).rstrip("/")
        self._api_key = api_key or None
        self._signer: JwtSigner | None = None
        if not self._api_key:
            if not (access_key and secret_key):
                raise ValueError(
                    "Kling needs an API key, or an access key and a secret key together"
                )
            self._signer = JwtSigner(access_key, secret_key, clock=clock)

    @property
    def uses_jwt(self) -> bool:
        return self._signer is not None

    def auth_headers(self) -> dict[str, str]:
        token = self._signer.token() if self._signer else self._api_key
        return {"Authorization": f"Bearer {token}"}

    def renew(self) -> bool:
        if self._signer is None:
            return False
        self._signer.invalidate()
        return True

    def secrets(self) -> tuple[str, ...]:
        if self._signer is not None:
            return self._signer.secrets()
        return (self._api_key,) if self._api_key else ()

    def __repr__(self) -> str:
        scheme = "jwt" if self._signer else "api_key"
        return f"KlingProvider(base_url={self.base_url!r}, auth={scheme})"


class CometApiProvider:
    name = "cometapi"
    path_prefix = "/kling"

    def __init__(self, *, api_key: str, base_url: str | None = None) -> None:
        if not api_key:
            raise ValueError("CometAPI needs an API key")
        self.base_url = (base_url or COMETAPI_BASE_URL).rstrip("/")
        self._api_key = api_key

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def renew(self) -> bool:
        return False

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def __repr__(self) -> str:
        return f"CometApiProvider(base_url={self.base_url!r})"


class EmulatorProvider:
    name = "emulator"
    path_prefix = ""

    def __init__(self, *, base_url: str) -> None:
        if not base_url:
            raise ValueError("the emulator provider needs a base URL")
        self.base_url = base_url.rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {EMULATOR_TOKEN}"}

    def renew(self) -> bool:
        return False

    def secrets(self) -> tuple[str, ...]:
        return ()

    def __repr__(self) -> str:
        return f"EmulatorProvider(base_url={self.base_url!r})"


def make_provider(
    name: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    clock: Clock = time.time,
) -> Provider:
    """Build a provider from configuration values (``[kling] provider`` in SPEC §9)."""
    if name == "kling":
        return KlingProvider(
            api_key=api_key,
            access_key=access_key,
            secret_key=secret_key,
            base_url=base_url,
            clock=clock,
        )
    if name == "cometapi":
        return CometApiProvider(api_key=api_key or "", base_url=base_url)
    if name == "emulator":
        return EmulatorProvider(base_url=base_url or "")
    raise ValueError(f"unknown Kling provider {name!r}; use kling, cometapi or emulator")
