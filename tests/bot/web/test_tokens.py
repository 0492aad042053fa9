"""Picker tokens: what they carry, what breaks them, and the key kept in the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import Store
from bot.web import BadTokenError, TokenSigner, new_signing_key
from bot.web.tokens import KEY_NAME

KEY = "k" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_names_member_session_and_locale_until_it_expires() -> None:
    clock = Clock()
    signer = TokenSigner(KEY, lifetime_s=30 * 60, clock=clock)
    token = signer.sign(member_id=42, session_id=7, locale="pt-BR")
    claims = signer.verify(token, session_id=7)
    assert (claims.member_id, claims.session_id, claims.locale) == (42, 7, "pt-BR")
    assert claims.expires_at == clock.now + 30 * 60
    clock.now += 30 * 60 - 1
    signer.verify(token, session_id=7)
    clock.now += 1
    with pytest.raises(BadTokenError, match="expired"):
        signer.verify(token, session_id=7)


@pytest.mark.parametrize(
    "breaks", ["other session", "other key", "flipped claim", "none alg", "empty"]
)
def test_a_broken_token_is_refused(breaks: str) -> None:
    signer = TokenSigner(KEY, lifetime_s=600)
    token = signer.sign(member_id=42, session_id=7)
    head, _body, signature = token.split(".")
    session = 7
    if breaks == "other session":
        session = 8
    elif breaks == "other key":
        token = TokenSigner("z" * 40, lifetime_s=600).sign(member_id=42, session_id=7)
    elif breaks == "flipped claim":
        other = signer.sign(member_id=43, session_id=7).split(".")[1]
        token = f"{head}.{other}.{signature}"
    elif breaks == "none alg":
        import jwt

        token = jwt.encode(
            {"sub": "42", "sid": 7, "exp": 9_999_999_999, "aud": "kling-bot/picker"},
            None,
            algorithm="none",
        )
    elif breaks == "empty":
        token = ""
    with pytest.raises(BadTokenError):
        signer.verify(token, session_id=session)


def test_a_short_key_is_refused_and_the_key_never_shows() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        TokenSigner("short", lifetime_s=60)
    assert KEY not in repr(TokenSigner(KEY, lifetime_s=60))


async def test_the_generated_key_is_made_once_and_kept(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    first = await store.get_or_create_secret(KEY_NAME, new_signing_key)
    again = await store.get_or_create_secret(KEY_NAME, new_signing_key)
    await store.close()
    store = await Store.open(tmp_path / "bot.db")
    after_restart = await store.get_or_create_secret(KEY_NAME, new_signing_key)
    await store.close()
    assert first == again == after_restart and len(first) >= 32
