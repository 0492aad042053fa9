"""Cutting text to Discord's limits: whatever the text, the result fits and keeps its start."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import fit as limits
from bot.fit import ELLIPSIS, excerpt, fit, share

DISCORD_LIMITS = [
    limits.CONTENT,
    limits.EMBED_TITLE,
    limits.EMBED_DESCRIPTION,
    limits.EMBED_FIELD_VALUE,
    limits.EMBED_FOOTER,
    limits.BUTTON_LABEL,
    limits.SELECT_OPTION,
    limits.PLACEHOLDER,
    limits.MODAL_TITLE,
    limits.LAYOUT_TEXT_TOTAL,
    limits.EXCERPT,
]

# Pieces members and translators really write: markdown, mentions, timestamps, emoji with
# modifiers and joiners, flags, combining accents, CJK, right-to-left text, line breaks.
PIECES = st.sampled_from(
    [
        "`",
        "```",
        "```py\n",
        "**",
        "*",
        "_",
        "~~",
        "||",
        "> ",
        "[link](https://x.y/z)",
        "<@123456789012345678>",
        "<t:1700000000:R>",
        "<:kling:112233445566778899>",
        "\n",
        " ",
        "👍🏽",
        "👩‍👩‍👧",
        "🇧🇷",
        "🇮🇩",
        "é",
        "e\u0301",
        "\u0301",
        "漢字",
        "مرحبا",
        "C4",
        "0.42,0.61",
    ]
)
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=40)), max_size=400).map("".join)


def long_text(draw: st.DrawFn) -> str:
    """Any length from 0 to 20,000 characters: a generated head, then filler of a drawn kind."""
    head = draw(TEXTS)
    total = draw(st.integers(0, 20_000))
    filler = draw(st.sampled_from(["x", "ü", "字", "👍🏽", "a b ", "`", "e\u0301", "<@1> "]))
    return (head + filler * (total // len(filler) + 1))[:total] if total > len(head) else head


@st.composite
def any_text(draw: st.DrawFn) -> str:
    return long_text(draw)


def kept_part(result: str) -> str:
    """The part of a fitted result that came from the text (no ellipsis, no closing markdown)."""
    if result.endswith("\n```"):
        result = result[: -len("\n```")]
    elif result.endswith("`") and not result.endswith("```"):
        result = result[:-1]
    return result[: -len(ELLIPSIS)] if result.endswith(ELLIPSIS) else result


@settings(max_examples=400, deadline=None)
@given(text=any_text(), limit=st.sampled_from(DISCORD_LIMITS))
def test_the_result_fits_and_keeps_the_start(text: str, limit: int) -> None:
    result = fit(text, limit)
    assert len(result) <= limit
    if len(text) <= limit:
        assert result == text  # what fits is never touched
        return
    assert result.endswith((ELLIPSIS, ELLIPSIS + "`", ELLIPSIS + "\n```"))
    kept = kept_part(result)
    assert text.startswith(kept)
    # Boundaries cost at most a quarter of the room (word, mention) and a few characters.
    assert len(kept) >= (limit - 5) * 3 // 4 - 5 or not text[: limit // 2].strip()


@settings(max_examples=300, deadline=None)
@given(text=any_text(), limit=st.integers(1, 5000))
def test_any_limit_is_respected(text: str, limit: int) -> None:
    result = fit(text, limit)
    assert len(result) <= limit
    assert text.startswith(kept_part(result))


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, limit=st.integers(8, 300))
def test_a_cut_never_leaves_a_code_span_or_block_open(text: str, limit: int) -> None:
    result = fit(text, limit)
    if result == text:
        return
    assert result.count("```") % 2 == 0 or kept_part(result).count("```") % 2 == 0
    if kept_part(result).count("```") % 2 == 0:
        assert result.replace("```", "").count("`") % 2 == 0


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, limit=st.integers(2, 300))
def test_a_cut_never_splits_a_visible_symbol(text: str, limit: int) -> None:
    kept = kept_part(fit(text, limit))
    rest = text[len(kept) :].lstrip()
    if kept and rest and rest != text[len(kept) :]:
        return  # cut at a space
    if kept and len(kept) < len(text):
        following = text[len(kept)]
        assert unicodedata.combining(following) == 0
        assert following != "\u200d" and kept[-1] != "\u200d"
        assert not "\U0001f3fb" <= following <= "\U0001f3ff"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("hello world this is long", 12, "hello world…"),
        ("see `" + "a" * 50 + "`", 20, "see `aaaaaaaaaaaaa…`"),
        ("```py\n" + "a" * 50 + "\n```", 20, "```py\naaaaaaaaa…\n```"),
        ("a" * 80 + " <@123456789012345678> there and more", 100, "a" * 80 + "…"),
        ("👍🏽" * 30, 10, "👍🏽👍🏽👍🏽👍🏽…"),
        ("🇫🇷" * 30, 10, "🇫🇷🇫🇷🇫🇷🇫🇷…"),
        ("short", 2000, "short"),
    ],
)
def test_examples(text: str, limit: int, expected: str) -> None:
    assert fit(text, limit) == expected


def test_an_excerpt_is_short_flat_and_cannot_close_the_quote_around_it() -> None:
    quoted = excerpt("x" * 6000)
    assert quoted == "x" * 39 + ELLIPSIS
    assert excerpt("a`b\n\nc") == "a'b c"


@settings(max_examples=300, deadline=None)
@given(lengths=st.lists(st.integers(0, 10_000), max_size=12), budget=st.integers(0, 6000))
def test_shares_fit_the_budget_and_spare_the_short(lengths: list[int], budget: int) -> None:
    caps = share(lengths, budget)
    assert len(caps) == len(lengths)
    assert all(0 <= cap <= length for cap, length in zip(caps, lengths, strict=True))
    if sum(lengths) <= budget:
        assert caps == lengths
    else:
        assert sum(caps) <= budget
        assert sum(caps) >= budget - len(lengths)  # nothing wasted beyond rounding
        cut = [c for c, n in zip(caps, lengths, strict=True) if c < n]
        assert max(cut) - min(cut) <= 1  # the cut ones share equally
