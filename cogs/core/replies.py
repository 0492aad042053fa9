"""Answering an interaction safely, whatever state it is in, within Discord's length limits.

Discord refuses a whole message when one part of it is too long (content, an embed field, a
button label, the text of a layout...), and a refused answer leaves the member watching
"thinking…". :func:`fit_content`, :func:`fit_embed` and :func:`fit_view` cut every such part
with :func:`bot.fit.fit`; :func:`send_reply` (every error answer goes through it) applies them.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import discord
from discord.ui.select import BaseSelect

from bot import fit as limits
from bot.fit import fit, share
from bot.i18n import Msg, render

log = logging.getLogger(__name__)

AnyView = TypeVar("AnyView", bound=discord.ui.View | discord.ui.LayoutView)
# Discord's answers to a followup once the interaction's 15-minute token has expired: Invalid
# Webhook Token, Unknown Webhook.
TOKEN_GONE = frozenset({50027, 10015})


def fit_content(text: str) -> str:
    """Message content cut to Discord's 2,000 characters."""
    return fit(text, limits.CONTENT)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """The embed with every part, and all of them together, within Discord's limits."""
    if embed.title:
        embed.title = fit(embed.title, limits.EMBED_TITLE)
    if embed.author.name:
        embed.set_author(
            name=fit(embed.author.name, limits.EMBED_AUTHOR),
            url=embed.author.url,
            icon_url=embed.author.icon_url,
        )
    while len(embed.fields) > limits.EMBED_FIELDS:
        embed.remove_field(limits.EMBED_FIELDS)
    for index, field in enumerate(embed.fields):
        embed.set_field_at(
            index,
            name=fit(field.name or "", limits.EMBED_FIELD_NAME),
            value=fit(field.value or "", limits.EMBED_FIELD_VALUE),
            inline=bool(field.inline),
        )
    if embed.footer.text:
        embed.set_footer(
            text=fit(embed.footer.text, limits.EMBED_FOOTER), icon_url=embed.footer.icon_url
        )
    if embed.description:
        embed.description = fit(embed.description, limits.EMBED_DESCRIPTION)
    if len(embed) > limits.EMBED_TOTAL:
        # Every part shares the total: short ones (titles, names) keep their words, the
        # longest (descriptions, values) are cut most.
        names = [f.name or "" for f in embed.fields]
        values = [f.value or "" for f in embed.fields]
        parts = [
            embed.title or "",
            embed.description or "",
            embed.footer.text or "",
            embed.author.name or "",
            *names,
            *values,
        ]
        caps = iter(share([len(p) for p in parts], limits.EMBED_TOTAL))
        title, description, footer, author = (fit(p, next(caps)) for p in parts[:4])
        embed.title, embed.description = title or None, description or None
        if embed.footer.text:
            embed.set_footer(text=footer, icon_url=embed.footer.icon_url)
        if embed.author.name:
            embed.set_author(name=author, url=embed.author.url, icon_url=embed.author.icon_url)
        names = [fit(n, next(caps)) for n in names]
        for index, field in enumerate(embed.fields):
            embed.set_field_at(
                index,
                name=names[index],
                value=fit(values[index], next(caps)),
                inline=bool(field.inline),
            )
    return embed


def fit_view(view: AnyView) -> AnyView:
    """The view with labels, placeholders, options and layout texts within Discord's limits
    (custom ids are ours and are built to fit: they are never cut, a cut id would be wrong)."""
    texts: list[discord.ui.TextDisplay[Any]] = []
    for item in view.walk_children():
        if isinstance(item, discord.ui.Button) and item.label:
            item.label = fit(item.label, limits.BUTTON_LABEL)
        elif isinstance(item, discord.ui.TextDisplay):
            texts.append(item)
        if isinstance(item, BaseSelect) and item.placeholder:
            item.placeholder = fit(item.placeholder, limits.PLACEHOLDER)
        if isinstance(item, discord.ui.Select):
            for option in item.options:
                option.label = fit(option.label, limits.SELECT_OPTION)
                if option.description:
                    option.description = fit(option.description, limits.SELECT_OPTION)
    caps = share([len(t.content) for t in texts], limits.LAYOUT_TEXT_TOTAL)
    for text, cap in zip(texts, caps, strict=True):
        text.content = fit(text.content, cap)
    return view


async def send_reply(
    interaction: discord.Interaction, content: str, *, ephemeral: bool = True
) -> None:
    """Answer with `content` as the first response or a followup; once the interaction's token is
    gone (15 minutes), privately in a DM, or only in the log when the member takes no DMs.

    A :class:`~bot.i18n.Msg` is rendered in the member's language (they are the one reading)."""
    content = fit_content(render(content, interaction.locale))
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(content, ephemeral=ephemeral)
            return
        if not interaction.is_expired():
            await interaction.followup.send(content, ephemeral=ephemeral)
            return
    except discord.HTTPException as exc:
        if exc.code not in TOKEN_GONE:
            # 10062 / 40060: the interaction is gone or answered; nothing more can be said
            # through it.
            log.warning("could not reply to interaction %s: %s", interaction.id, exc)
            return
    # The answer was for this member alone (often an error about their own input): never the
    # channel, where everybody would read it.
    await tell_privately(interaction, content)


async def tell_privately(interaction: discord.Interaction, content: str) -> None:
    """A DM to the member who interacted; if they take no DMs, the log is all that is left."""
    if interaction.channel_id is not None:  # a DM says where it comes from
        content = fit_content(
            render(
                Msg(
                    "About your request in <#{channel}>: {answer}",
                    channel=interaction.channel_id,
                    answer=content,
                ),
                interaction.locale,
            )
        )
    try:
        await interaction.user.send(content, allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException as exc:  # 50007: the member's privacy settings refuse DMs
        log.info(
            "interaction %s expired and user %s takes no DMs (%s); the answer was: %s",
            interaction.id,
            interaction.user.id,
            exc,
            content,
        )
