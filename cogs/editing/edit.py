"""Starting a session: `/kling edit`, **Edit video with Kling**, and **Edit this result**.

The flow (each step after the acknowledgement): an existing session is only replaced after the
member confirms; the video is downloaded with a cap and checked locally; a video that breaks a
rule gets one message naming each rule, with **Fix and continue** when it can be fixed; then the
board message is posted carrying the video (Discord re-hosts it, so a fresh URL can always be had),
the Kling session is opened on that attachment's URL, and the message becomes the board.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import discord
from discord import app_commands

from bot.editing import VideoCheck
from bot.errors import UserFacingError
from bot.i18n import Joined, Msg, Text, render, translate
from bot.storage import SessionConflictError
from cogs.core.access import ensure_channel_enabled
from cogs.core.emulator_note import on_emulator
from cogs.core.kling_group import editing_service, store_of
from cogs.core.languages import channel_locale, member_locale
from cogs.core.replies import send_reply
from cogs.editing.board import (
    NO_MENTIONS,
    OPENING_TEXT,
    REPLACED_TEXT,
    board_file,
    board_layout,
    notice_layout,
    retire_board,
    source_attachment,
)
from cogs.editing.edit_views import FixVideoView, ReplaceSessionView

log = logging.getLogger(__name__)

MAX_VIDEO_BYTES = 200 * 1024 * 1024
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv")

# Replies to the member (ephemeral, their language) unless said otherwise.
EXACTLY_ONE_SOURCE = Msg("Give either a `video` attachment or a `url`, not both and not neither.")
NOT_A_VIDEO = Msg("That message has no video attachment to edit.")


@dataclass(frozen=True)
class VideoSource:
    url: str
    filename: str
    user_supplied: bool
    size: int | None = None
    local_path: Path | None = None  # set once downloaded (or fixed)
    note: Text | None = None


def _name_from_url(url: str) -> str:
    name = Path(unquote(urlsplit(url).path)).name
    return name if name.lower().endswith(VIDEO_SUFFIXES) else "video.mp4"


def _link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


async def open_session_from_video(
    interaction: discord.Interaction, video_url: str, filename: str, *, thread: bool | None = None
) -> None:
    """Start this channel's session from a video already on Discord (a message attachment, a
    result the bot posted). Acknowledges the interaction itself if nobody did yet."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    await start_session(
        interaction, VideoSource(video_url, filename, user_supplied=False), thread=thread
    )


async def start_session(
    interaction: discord.Interaction,
    source: VideoSource,
    *,
    thread: bool | None,
    replace_existing: bool = False,
) -> None:
    """The whole /kling edit flow after the acknowledgement (see the module docstring)."""
    if interaction.guild is None or interaction.channel is None:
        raise app_commands.NoPrivateMessage()
    service = editing_service(interaction.client)
    settings = await ensure_channel_enabled(interaction, store_of(interaction.client))
    # The server's `sessions_in_threads` decides unless the member chose with `thread`.
    in_thread = (settings.sessions_in_threads if thread is None else thread) and not isinstance(
        interaction.channel, discord.Thread
    )
    if not in_thread and not replace_existing:
        existing = await service.active_session(interaction.guild.id, interaction.channel.id)
        if existing is not None:
            await ask_to_replace(interaction, source, existing, thread=thread)
            return
    if source.local_path is None:
        if source.size is not None and source.size > MAX_VIDEO_BYTES:
            raise UserFacingError(
                Msg(
                    "That video is {size} MB; I can take videos up to {cap} MB.",
                    size=f"{source.size / 1e6:.0f}",
                    cap=MAX_VIDEO_BYTES // (1024 * 1024),
                )
            )
        path = await service.download_video(source.url, user_supplied=source.user_supplied)
        source = replace(source, local_path=path)
        check = await service.check_video(path)
        if not check.ok:
            await report_check(interaction, source, check, thread=thread)
            return
    await post_board(interaction, source, in_thread=in_thread, replace_existing=replace_existing)


async def ask_to_replace(
    interaction: discord.Interaction, source: VideoSource, existing: Any, *, thread: bool | None
) -> None:
    points = await store_of(interaction.client).list_points(existing.id)

    async def go(inner: discord.Interaction) -> None:
        await start_session(inner, source, thread=thread, replace_existing=True)

    view = ReplaceSessionView(interaction.user.id, go, member_locale(interaction))
    await send_view(
        interaction,
        Msg(
            "This channel already has an editing session (started by <@{user}>, {points} point(s) "
            "marked). Replace it with this video?",
            user=existing.created_by,
            points=len(points),
        ),
        view,
    )


async def report_check(
    interaction: discord.Interaction, source: VideoSource, check: VideoCheck, *, thread: bool | None
) -> None:
    if check.info is None:
        reason = check.unreadable_reason or Msg("unknown format")
        raise UserFacingError(
            Msg(
                "**{name}** is not a video I can read: {reason}",
                name=source.filename,
                reason=reason,
            )
        )
    lines: list[object] = [
        Msg("**{name}** cannot be edited by Kling as it is:", name=source.filename)
    ]
    lines += [Joined(("- ", v.message), "") for v in check.violations]
    if not check.fixable:
        lines.append(
            Msg(
                "Please upload a video that meets these rules (mp4/mov, 2–5 s or "
                "7–10 s, 720–2160 px per side, 24/30/60 fps)."
            )
        )
        await send_reply(interaction, Joined(lines, "\n"))
        return
    lines.append(Msg("I can fix this: **Fix and continue** trims, rescales or re-encodes a copy."))

    async def fix_and_continue(inner: discord.Interaction) -> None:
        if source.local_path is None:
            raise RuntimeError(f"{source.filename} was checked but never downloaded")
        report = await editing_service(inner.client).fix_video(source.local_path)
        fixed = replace(
            source,
            local_path=report.path,
            filename=Path(source.filename).stem + "-fixed" + report.path.suffix,
            note=Msg("Fixed: {changes}", changes=Joined(report.changes, "; ")),
        )
        await start_session(inner, fixed, thread=thread)

    await send_view(
        interaction,
        Joined(lines, "\n"),
        FixVideoView(interaction.user.id, fix_and_continue, member_locale(interaction)),
    )


async def send_view(interaction: discord.Interaction, content: str, view: discord.ui.View) -> None:
    """An ephemeral choice for the member, worded in their language."""
    content = render(content, member_locale(interaction))
    if interaction.response.is_done():
        await interaction.followup.send(content, view=view, ephemeral=True)
    else:
        await interaction.response.send_message(content, view=view, ephemeral=True)


async def post_board(
    interaction: discord.Interaction,
    source: VideoSource,
    *,
    in_thread: bool,
    replace_existing: bool,
) -> None:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    if source.local_path is None:
        raise RuntimeError(f"{source.filename} is posted before it was downloaded")
    service = editing_service(interaction.client)
    channel: Any = interaction.channel
    if in_thread:
        # A thread everybody sees: named in the server's language.
        channel = await channel.create_thread(
            name=translate(
                channel_locale(interaction), "Kling edit: {name}", name=Path(source.filename).stem
            )[:100],
            type=discord.ChannelType.public_thread,
        )
    old = None if in_thread else await service.active_session(interaction.guild.id, channel.id)
    fits = source.local_path.stat().st_size <= interaction.filesize_limit
    files = [discord.File(source.local_path, filename=source.filename)] if fits else []
    locale = channel_locale(interaction)
    message = await channel.send(
        view=notice_layout(
            OPENING_TEXT, video_filename=source.filename if fits else None, locale=locale
        ),
        files=files,
        allowed_mentions=NO_MENTIONS,
    )
    video = source_attachment(message)
    try:
        board = await service.open_session(
            guild_id=interaction.guild.id,
            channel_id=channel.id,
            user_id=interaction.user.id,
            video=source.local_path,
            video_url=video.url if video else source.url,
            source_message_id=message.id,
            source_attachment_id=video.id if video else None,
            replace=replace_existing,
        )
    except SessionConflictError as exc:
        await message.delete()
        await ask_to_replace(interaction, source, exc.existing, thread=None)
        return
    except BaseException:
        await message.delete()
        raise
    await service.set_board_message(board.session_id, message.id)
    await message.edit(
        view=board_layout(
            board,
            video_filename=video.filename if video else None,
            locale=locale,
            emulator=on_emulator(interaction.client),
        ),
        attachments=[*([video] if video else []), board_file(board, locale)],
        allowed_mentions=NO_MENTIONS,
    )
    if old is not None and old.board_message_id and old.board_message_id != message.id:
        await retire_board(interaction.client, old, REPLACED_TEXT)
    note = Msg(
        "Your editing session is open: {link}",
        link=_link(interaction.guild.id, channel.id, message.id),
    )
    await send_reply(interaction, Joined((note, source.note), "\n") if source.note else note)


class EditCommands:
    """`/kling edit` (mixed into cogs.editing.cog.EditingCog)."""

    @app_commands.command(name="edit", description="Start editing a video in this channel")
    @app_commands.describe(
        video="The video to edit (mp4 or mov, 2–5 s or 7–10 s)",
        url="Or a link to the video",
        thread="Open the session in a new thread",
    )
    async def edit(
        self,
        interaction: discord.Interaction,
        video: discord.Attachment | None = None,
        url: str | None = None,
        thread: bool | None = None,
    ) -> None:
        if video is not None and url is None:
            source = VideoSource(video.url, video.filename, user_supplied=False, size=video.size)
        elif url is not None and video is None:
            source = VideoSource(url.strip(), _name_from_url(url.strip()), user_supplied=True)
        else:
            await interaction.response.send_message(
                EXACTLY_ONE_SOURCE.render(member_locale(interaction)), ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await start_session(interaction, source, thread=thread)


async def edit_video_context_menu(
    interaction: discord.Interaction, message: discord.Message
) -> None:
    """Message context menu **Edit video with Kling**."""
    video = next(
        (
            a
            for a in message.attachments
            if (a.content_type or "").startswith("video/")
            or a.filename.lower().endswith(VIDEO_SUFFIXES)
        ),
        None,
    )
    if video is None:
        await interaction.response.send_message(
            NOT_A_VIDEO.render(member_locale(interaction)), ephemeral=True
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    await start_session(
        interaction,
        VideoSource(video.url, video.filename, user_supplied=False, size=video.size),
        thread=None,
    )
