"""`/kling mark | undo | clear | frame | preview`: the board's actions as slash commands.

Each updates the channel's board in place and answers the member privately with the new board
image and a link to the board, so whoever typed the command sees the result at once. Those that
call Kling (mark, undo, clear, preview) have a per-member cooldown, checked before acknowledging
so a refusal is private; all of them are refused in a channel where the bot is disabled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.editing import BoardView
from bot.i18n import Joined, Msg, Text, translate
from bot.storage import Session
from cogs.core.access import ensure_channel_enabled, guild_and_channel
from cogs.core.cooldowns import PREVIEW, SELECTION, CooldownRule, enforce_cooldown
from cogs.core.kling_group import editing_service, store_of
from cogs.core.languages import channel_locale, member_locale
from cogs.core.options import PointOption
from cogs.editing.board import board_file, board_lock, publish_board, usable_session

CLEARED = Msg("Cleared every point.")
PREVIEW_MISSING = Msg("Kling returned no preview video.")
FRAME_OR_TIME = Msg("Give a `frame` or a `time`, not both.")
NO_FRAME = Msg("Give a `frame` (e.g. 12) or a `time` (e.g. 1.5s).")


def _link(session: Session) -> str:
    return (
        f"https://discord.com/channels/{session.guild_id}/{session.channel_id}/"
        f"{session.board_message_id}"
    )


async def run_board_change(
    interaction: discord.Interaction,
    change: Callable[[Session], Awaitable[BoardView]],
    describe: Callable[[BoardView], Text],
    *,
    cooldown: CooldownRule | None,
) -> None:
    """Acknowledge, apply `change` to the channel's session, refresh the board, reply."""
    if cooldown is not None:
        enforce_cooldown(interaction, cooldown)
    await interaction.response.defer(ephemeral=True, thinking=True)
    guild_id, channel_id = guild_and_channel(interaction)
    await ensure_channel_enabled(interaction, store_of(interaction.client))
    service = editing_service(interaction.client)
    session = await service.require_session(guild_id, channel_id)
    lock = board_lock(interaction.client, session.id)  # before the change: see publish_board
    # The change waits for the session's earlier Kling calls (if it calls Kling); the board's
    # lock is only taken to edit the message, so a frame move never waits behind a mark.
    board = await change(session)
    # The member who acted reads this answer: their language.
    locale = member_locale(interaction)
    text = describe(board).render(locale)
    if session.board_message_id:
        text += "\n" + translate(locale, "[Open the board]({link})", link=_link(session))
    # The answer and the channel's board are independent Discord calls: one round trip, not two.
    await asyncio.gather(
        publish_board(interaction.client, session, board, lock),
        interaction.followup.send(text, file=board_file(board, locale), ephemeral=True),
    )


def _count_on(board: BoardView) -> int:
    return len(board.points_on_frame)


async def send_preview(interaction: discord.Interaction, session: Session) -> None:
    """Ask Kling for the tracked preview; post the video (or its link) and the cover in the
    channel, and tell the member (whose interaction is acknowledged ephemerally) where."""
    preview = await editing_service(interaction.client).preview(session.id)
    limit = interaction.filesize_limit
    files: list[discord.File] = []
    lines: list[object] = [
        Msg("Preview of the tracked selection, requested by {user}.", user=interaction.user.mention)
    ]
    if preview.video is not None and preview.video.stat().st_size <= limit:
        files.append(discord.File(preview.video, filename="preview" + preview.video.suffix))
    elif preview.video_url:
        lines.append(
            Msg("The preview video is too large to upload here: {url}", url=preview.video_url)
        )
    else:
        lines.append(PREVIEW_MISSING)
    if preview.cover is not None and preview.cover.stat().st_size <= limit:
        files.append(discord.File(preview.cover, filename="preview-cover" + preview.cover.suffix))
    channel = interaction.channel
    if not isinstance(channel, discord.abc.Messageable):  # no channel: not from a server
        raise app_commands.NoPrivateMessage()
    # The post is for the channel (the server's language), the pointer to it for the member.
    posted = await channel.send(
        Joined(lines, "\n").render(channel_locale(interaction)),
        files=files,
        allowed_mentions=discord.AllowedMentions.none(),
    )
    await interaction.followup.send(
        translate(
            member_locale(interaction),
            "The preview is in the channel: {link}",
            link=posted.jump_url,
        ),
        ephemeral=True,
    )


async def run_preview(interaction: discord.Interaction, session_id: int | None) -> None:
    """The preview of a session (the channel's when `session_id` is None), cooldown first."""
    enforce_cooldown(interaction, PREVIEW)
    await interaction.response.defer(ephemeral=True, thinking=True)
    guild_id, channel_id = guild_and_channel(interaction)
    if session_id is None:
        await ensure_channel_enabled(interaction, store_of(interaction.client))
        session = await editing_service(interaction.client).require_session(guild_id, channel_id)
    else:
        found = await usable_session(interaction, session_id)
        if found is None:
            return
        session = found
    await send_preview(interaction, session)


class MarkingCommands:
    """Mixed into cogs.editing.cog.EditingCog."""

    @app_commands.command(name="mark", description="Mark points on a frame of this channel's video")
    @app_commands.describe(
        points="Cells (C4), 0.42,0.61, 42%,61% or 640,360px; space-separated",
        frame="Frame number (default: the board's frame)",
        time="Or a time such as 1.5s",
    )
    async def mark(
        self,
        interaction: discord.Interaction,
        points: str,
        frame: app_commands.Range[int, 0] | None = None,
        time: str | None = None,
    ) -> None:
        if frame is not None and time is not None:
            await interaction.response.send_message(
                FRAME_OR_TIME.render(member_locale(interaction)), ephemeral=True
            )
            return
        service = editing_service(interaction.client)
        await run_board_change(
            interaction,
            lambda s: service.mark(
                s.id, points=points, user_id=interaction.user.id, frame=frame, time_text=time
            ),
            lambda b: Msg(
                "Marked frame {frame}: {count} point(s) there now.",
                frame=b.frame_index,
                count=_count_on(b),
            ),
            cooldown=SELECTION,
        )

    @app_commands.command(name="undo", description="Remove one point (default: the last one added)")
    @app_commands.describe(point="The point to remove")
    async def undo(
        self, interaction: discord.Interaction, point: PointOption | None = None
    ) -> None:
        service = editing_service(interaction.client)
        await run_board_change(
            interaction,
            lambda s: service.undo(s.id, user_id=interaction.user.id, point_id=point),
            lambda b: Msg(
                "Removed the point. Frame {frame} has {count} point(s).",
                frame=b.frame_index,
                count=_count_on(b),
            ),
            cooldown=SELECTION,
        )

    @undo.autocomplete("point")
    async def undo_point_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        service = editing_service(interaction.client)
        if interaction.guild_id is None or interaction.channel_id is None:
            return []  # not from a server channel: nothing to offer
        session = await service.active_session(interaction.guild_id, interaction.channel_id)
        if session is None:
            return []
        choices = await service.point_choices(
            session.id, current, locale=member_locale(interaction)
        )
        return [app_commands.Choice(name=label[:100], value=pid) for label, pid in choices[:25]]

    @app_commands.command(name="clear", description="Remove every point of this channel's session")
    async def clear(self, interaction: discord.Interaction) -> None:
        service = editing_service(interaction.client)
        await run_board_change(
            interaction,
            lambda s: service.clear(s.id, user_id=interaction.user.id),
            lambda _b: CLEARED,
            cooldown=SELECTION,
        )

    @app_commands.command(name="frame", description="Move the board to a frame")
    @app_commands.describe(frame="Frame number", time="Or a time such as 1.5s")
    async def frame(
        self,
        interaction: discord.Interaction,
        frame: app_commands.Range[int, 0] | None = None,
        time: str | None = None,
    ) -> None:
        if (frame is None) == (time is None):
            message = FRAME_OR_TIME if frame is not None else NO_FRAME
            await interaction.response.send_message(
                message.render(member_locale(interaction)), ephemeral=True
            )
            return
        service = editing_service(interaction.client)
        await run_board_change(
            interaction,
            lambda s: service.goto_frame(s.id, frame=frame, time_text=time),
            lambda b: Msg(
                "The board shows frame {frame} ({time} s).",
                frame=b.frame_index,
                time=f"{b.time_s:.2f}",
            ),
            cooldown=None,
        )

    @app_commands.command(
        name="preview", description="Preview the tracked selection across the video"
    )
    async def preview(self, interaction: discord.Interaction) -> None:
        await run_preview(interaction, None)
