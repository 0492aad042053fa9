"""The Discord side of the web picker (bot.web): redraw the channel's board after a mark made on
the page, name the members who added points, and the **Open the picker** link button."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import ui

from bot.i18n import Msg
from bot.storage import Session
from cogs.core.kling_group import editing_service
from cogs.core.languages import member_locale
from cogs.editing.board import publish_board

log = logging.getLogger(__name__)

OPEN_LABEL = Msg("Open the picker", msgctxt="button")


class DiscordPickerSide:
    """What :class:`bot.web.Picker` asks of Discord, answered from the bot's cache and REST."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def board_changed(self, session_id: int) -> None:
        service = editing_service(self.client)
        # As after /kling mark: publish_board keeps the newest board on top.
        lock = service.locks.board(session_id)
        session = await service.store.get_session(session_id)
        if session is None or not session.is_active:
            return
        await publish_board(self.client, session, await service.board(session_id), lock)

    def member_name(self, guild_id: int, user_id: int) -> str | None:
        guild = self.client.get_guild(guild_id)
        member = guild.get_member(user_id) if guild is not None else None
        if member is not None:
            return member.display_name
        user = self.client.get_user(user_id)
        return user.display_name if user is not None else None

    def parent_channel_id(self, channel_id: int) -> int | None:
        channel = self.client.get_channel(channel_id)
        return channel.parent_id if isinstance(channel, discord.Thread) else None


def picker_link_button(interaction: discord.Interaction, session: Session) -> ui.Button[Any] | None:
    """**Open the picker** with this member's personal link, or None when the web picker is
    off (no `[web] public_url`)."""
    services = getattr(interaction.client, "services", None)
    web = getattr(services, "web", None)
    picker = getattr(web, "picker", None)
    if picker is None:
        return None
    locale = member_locale(interaction)
    url = picker.link(
        session_id=session.id,
        member_id=interaction.user.id,
        locale=getattr(locale, "value", locale),
    )
    return ui.Button(style=discord.ButtonStyle.link, url=url, label=OPEN_LABEL.render(locale))
