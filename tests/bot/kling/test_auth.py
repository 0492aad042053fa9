"""Providers and the legacy access-key/secret-key JWT."""

from __future__ import annotations

import jwt
import pytest

from bot.kling.auth import (
    COMETAPI_BASE_URL,
    KLING_BASE_URL,
    CometApiProvider,
    EmulatorProvider,
    JwtSigner,
    KlingProvider,
    make_provider,
)

ACCESS_KEY = "ak-test-0001"
SECRET_KEY = "sk-test-secret-0001-with-32-bytes-or-more"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _bearer(headers: dict[str, str]) -> str:
    scheme, _, token = headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def test_jwt_header_claims_and_signature() -> None:
    clock = FakeClock(1_700_000_000.7)
    provider = KlingProvider(access_key=ACCESS_KEY, secret_key=SECRET_KEY, clock=clock)
    token = _bearer(provider.auth_headers())
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(
        token,
        SECRET_KEY,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert claims == {"iss": ACCESS_KEY, "exp": 1_700_000_000 + 1800, "nbf": 1_700_000_000 - 5}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            "another-secret-also-32-bytes-long!!",
            algorithms=["HS256"],
            options={"verify_exp": False},
        )


def test_jwt_is_cached_and_remade_five_minutes_before_expiry() -> None:
    clock = FakeClock(1000.0)
    signer = JwtSigner(ACCESS_KEY, SECRET_KEY, clock=clock)
    first = signer.token()
    clock.now = 1000 + 1800 - 300 - 1
    assert signer.token() == first
    clock.now = 1000 + 1800 - 300
    second = signer.token()
    assert second != first
    claims = jwt.decode(
        second, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert claims["exp"] == 1000 + 1800 - 300 + 1800


def test_renew_forces_a_new_token() -> None:
    clock = FakeClock(1000.0)
    provider = KlingProvider(access_key=ACCESS_KEY, secret_key=SECRET_KEY, clock=clock)
    first = provider.auth_headers()
    clock.now = 1010.0
    assert provider.auth_headers() == first
    assert provider.renew() is True
    assert provider.auth_headers() != first


def test_api_key_is_preferred_and_sent_as_is() -> None:
    provider = KlingProvider(
        api_key="kling-key-123456", access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )
    assert provider.auth_headers() == {"Authorization": "Bearer kling-key-123456"}
    assert provider.uses_jwt is False
    assert provider.renew() is False
    assert provider.base_url == KLING_BASE_URL


def test_kling_needs_a_key_or_a_full_pair() -> None:
    with pytest.raises(ValueError, match="access key and a secret key"):
        KlingProvider(access_key=ACCESS_KEY)


def test_cometapi_and_emulator() -> None:
    comet = make_provider("cometapi", api_key="comet-key-123456")
    assert isinstance(comet, CometApiProvider)
    assert comet.base_url == COMETAPI_BASE_URL
    assert comet.path_prefix == "/kling"
    assert comet.auth_headers() == {"Authorization": "Bearer comet-key-123456"}
    emulator = make_provider("emulator", base_url="http://127.0.0.1:8123/")
    assert isinstance(emulator, EmulatorProvider)
    assert emulator.auth_headers() == {"Authorization": "Bearer kling-bot-emulator"}
    assert emulator.base_url == "http://127.0.0.1:8123"
    with pytest.raises(ValueError, match="unknown Kling provider"):
        make_provider("openai")
    with pytest.raises(ValueError):
        make_provider("cometapi")


def test_no_secret_in_repr() -> None:
    providers = [
        KlingProvider(api_key="kling-key-123456"),
        KlingProvider(access_key=ACCESS_KEY, secret_key=SECRET_KEY),
        CometApiProvider(api_key="comet-key-123456"),
    ]
    for provider in providers:
        provider.auth_headers()
        text = repr(provider) + str(provider)
        for secret in ("kling-key-123456", SECRET_KEY, "comet-key-123456", *provider.secrets()):
            assert secret not in text
    assert SECRET_KEY not in repr(JwtSigner(ACCESS_KEY, SECRET_KEY))
