"""Embeds and layouts of any size come out of the fitting helpers as Discord accepts them
(checked by the stand-in's own validation of message bodies)."""

from __future__ import annotations

from typing import Any

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from cogs.core.replies import fit_content, fit_embed, fit_view
from tests.discord_twin.bodies import validate_message
from tests.discord_twin.model import COMPONENTS_V2_FLAG

SIZES = st.integers(0, 20_000)
WORDS = st.sampled_from(["x", "ü ", "字", "👍🏽", "**b** ", "`c` ", "<@1> ", "\n"])


def text_of(size: int, word: str) -> str:
    return (word * (size // len(word) + 1))[:size]


def refused(payload: dict[str, Any]) -> bool:
    return validate_message(payload, [], creating=True) is not None


@settings(max_examples=60, deadline=None)
@given(size=SIZES, word=WORDS)
def test_content_of_any_size_is_accepted(size: int, word: str) -> None:
    text = text_of(size, word) or "."
    assert refused({"content": text}) == (len(text) > 2000)  # the stand-in is as strict
    assert not refused({"content": fit_content(text)})


@settings(max_examples=60, deadline=None)
@given(
    title=SIZES, description=SIZES, fields=st.integers(0, 40), value=SIZES, footer=SIZES, word=WORDS
)
def test_embeds_of_any_size_are_accepted(
    title: int, description: int, fields: int, value: int, footer: int, word: str
) -> None:
    embed = discord.Embed(
        title=text_of(title, word) or None, description=text_of(description, word) or None
    )
    for n in range(fields):
        embed.add_field(
            name=f"field {n} " + text_of(value // 20, word), value=text_of(value, word) or "-"
        )
    if footer:
        embed.set_footer(text=text_of(footer, word))
    fitted = fit_embed(embed)
    assert not refused({"embeds": [fitted.to_dict()]}), fitted.to_dict().keys()
    if description:  # the description keeps its start ("…" ends a cut one)
        kept = (fitted.description or "").split("…")[0]
        assert text_of(description, word).startswith(kept)


async def test_layouts_of_any_size_are_accepted() -> None:
    for sizes in ([10, 10], [3000, 3000], [20_000, 5, 900], [4000], [1500] * 5):
        view = discord.ui.LayoutView()
        container = discord.ui.Container(
            *(discord.ui.TextDisplay(text_of(n, "ab ") or "-") for n in sizes)
        )
        container.add_item(
            discord.ui.ActionRow(discord.ui.Button(label="L" * 200, custom_id="kling:b:1:f+1"))
        )
        view.add_item(container)
        view.add_item(
            discord.ui.ActionRow(
                discord.ui.Select(
                    custom_id="s",
                    placeholder="p" * 400,
                    options=[
                        discord.SelectOption(label="o" * 300, value="v", description="d" * 300)
                    ],
                )
            )
        )
        payload = {"components": view.to_components(), "flags": COMPONENTS_V2_FLAG}
        assert refused(payload) == (sum(sizes) > 0)  # labels alone are too long already
        fitted = {"components": fit_view(view).to_components(), "flags": COMPONENTS_V2_FLAG}
        assert not refused(fitted), sizes
        texts = [c.content for c in view.walk_children() if isinstance(c, discord.ui.TextDisplay)]
        # Short texts are not cut to make room for the long ones.
        assert all(len(t) == n for t, n in zip(texts, sizes, strict=True) if n <= 10)
        assert all(t.startswith(text_of(n, "ab ")[:1]) for t, n in zip(texts, sizes, strict=True))
