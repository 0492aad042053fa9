"""Answering an interaction safely, whatever state it is in."""

from __future__ import annotations

import logging

import discord

from bot.i18n import render

log = logging.getLogger(__name__)


async def send_reply(interaction: discord.Interaction, content: str, *,
                     ephemeral: bool = True) -> None:
    """Answer with `content` as the first response, a followup, or (token dead) a channel post.

    A :class:`~bot.i18n.Msg` is rendered in the member's language (they are the one reading)."""
    content = render(content, interaction.locale)
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(content, ephemeral=ephemeral)
        elif not interaction.is_expired():
            await interaction.followup.send(content, ephemeral=ephemeral)
        elif isinstance(interaction.channel, discord.abc.Messageable):
            user = interaction.user.mention
            await interaction.channel.send(
                f"{user} {content}",
                allowed_mentions=discord.AllowedMentions(users=[interaction.user]),
            )
    except discord.HTTPException as exc:
        # 10062 / 40060 / 50027: the interaction is gone; nothing more can be said through it.
        log.warning("could not reply to interaction %s: %s", interaction.id, exc)
