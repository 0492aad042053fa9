"""Drawing the board message (SPEC §3) from a `BoardView`, and editing it in place.

The board is one channel message in Discord's layout components: a container with the rendered
frame (a media gallery showing `attachment://board.jpg`), a text block (frame, time, marked frames,
who marked what, expiry) and three rows of buttons, followed by the source video itself. The
message carries the video so Discord re-hosts it: a fresh attachment URL can always be had by
re-reading the message (`KlingBot.fresh_video_url`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import ui

from bot.editing import BoardView
from bot.editing.boards import clamp_frame
from bot.editing.locks import BoardLock
from bot.i18n import Joined, Msg, render, translate
from cogs.core.access import ensure_channel_enabled
from cogs.core.emulator_note import on_emulator, with_emulator_note
from cogs.core.kling_group import editing_service, store_of
from cogs.core.languages import channel_locale, server_locale
from cogs.core.replies import send_reply
from cogs.editing.board_buttons import BoardButton
from cogs.editing.board_messages import board_messages

if TYPE_CHECKING:
    from bot.storage import Session

log = logging.getLogger(__name__)

BOARD_IMAGE_NAME = "board"
NO_MENTIONS = discord.AllowedMentions.none()

# The board is a channel message everybody reads: its text and buttons are in the server's
# language (`cogs.core.languages.server_locale`), worded each time the board is drawn.
OPENING_TEXT = Msg("## Kling editing board\nOpening the editing session…")
ENDED_TEXT = Msg(
    "## Kling editing board\nThis editing session has ended. Start a new one with `/kling edit`."
)
REPLACED_TEXT = Msg(
    "## Kling editing board\nThis editing session was replaced by a newer one in this channel."
)
SESSION_ENDED = Msg("This editing session has ended. Start a new one with `/kling edit`.")
OTHER_CHANNEL = Msg("This board belongs to another channel's editing session.")
SOURCE_LABEL = Msg("-# Source video (re-hosted here so Kling can always fetch it)")

# Buttons: (action, label); arrows need no words.
NAV_BUTTONS = (("f-10", "◀◀ -10"), ("f-1", "◀ -1"), ("f+1", "▶ +1"), ("f+10", "▶▶ +10"))
ACTION_LABELS = {
    "mark": Msg("Add points", msgctxt="button"),
    "undo": Msg("Undo", msgctxt="button"),
    "clear": Msg("Clear", msgctxt="button"),
    "preview": Msg("Preview", msgctxt="button"),
    "remove": Msg("Remove", msgctxt="button"),
    "swap": Msg("Swap", msgctxt="button"),
    "add": Msg("Add", msgctxt="button"),
    "pick": Msg("Pick points", msgctxt="button"),
}


def board_image_filename(board: BoardView) -> str:
    ext = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp"}.get(
        board.image_format.lower(), "jpg"
    )
    return f"{BOARD_IMAGE_NAME}.{ext}"


def board_file(board: BoardView, locale: object = None) -> discord.File:
    return discord.File(
        io.BytesIO(board.image),
        filename=board_image_filename(board),
        description=translate(
            locale, "Frame {frame} of the editing board", frame=board.frame_index
        ),
    )


def board_text(board: BoardView, locale: object = None, *, emulator: bool = False) -> str:
    lines: list[object] = [
        Msg("## Kling editing board"),
        Msg(
            "**Frame {frame} / {last}** · {time} s · grid {grid}",
            frame=board.frame_index,
            last=board.total_frames - 1,
            time=f"{board.time_s:.2f}",
            grid=board.grid,
        ),
    ]
    if board.marked_frames:
        items = []
        for f, n in board.marked_frames:
            item = Msg("{frame} ({points} pt)", frame=f, points=n)
            items.append(Joined(("**", item, "**"), "") if f == board.frame_index else item)
        lines.append(
            Msg(
                "**Marked frames ({count}/{max_frames}):** {frames}",
                count=len(board.marked_frames),
                max_frames=board.max_frames,
                frames=Joined(items, " · "),
            )
        )
    else:
        lines.append(
            Msg(
                "No points yet: click **Add points** or use `/kling mark` (e.g. `C4` or "
                "`0.42,0.61`)."
            )
        )
    if board.points_on_frame:
        on_frame = Joined(
            (
                Msg("#{number} by <@{user}>", number=p.number, user=p.added_by)
                for p in board.points_on_frame
            ),
            ", ",
        )
        lines.append(Msg("**On this frame:** {points}", points=on_frame))
    if board.contributors:
        people = ", ".join(f"<@{user}> ({count})" for user, count in board.contributors)
        lines.append(Msg("**Marked by:** {people}", people=people))
    if board.expires_at is not None:
        lines.append(
            Msg(
                "Kling session renews itself; current one expires <t:{at}:R>.",
                at=int(board.expires_at),
            )
        )
    return Joined(with_emulator_note(lines, emulator), "\n").render(locale)


def _button(
    session_id: int,
    action: str,
    label: str,
    *,
    disabled: bool = False,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
) -> ui.Item[Any]:
    return BoardButton(session_id, action, label=label, style=style, disabled=disabled)


def board_layout(
    board: BoardView, *, video_filename: str | None, locale: object = None, emulator: bool = False
) -> ui.LayoutView:
    """The board message in `locale` (the server's language); `emulator` adds the line saying
    the edits are the emulator's."""
    sid = board.session_id
    labels = {action: label.render(locale) for action, label in ACTION_LABELS.items()}
    first, last = board.frame_index <= 0, board.frame_index >= board.total_frames - 1
    has_points = board.total_points > 0
    nav: ui.ActionRow[ui.LayoutView] = ui.ActionRow()
    for action, label in NAV_BUTTONS:
        nav.add_item(_button(sid, action, label, disabled=first if "-" in action else last))
    nav.add_item(_button(sid, "mark", labels["mark"], style=discord.ButtonStyle.primary))
    tools: ui.ActionRow[ui.LayoutView] = ui.ActionRow()
    # The zoom picker (cogs.editing.picker): always there, marking is by clicking as well as typing.
    tools.add_item(_button(sid, "pick", labels["pick"], style=discord.ButtonStyle.primary))
    for action in ("undo", "clear", "preview"):
        tools.add_item(_button(sid, action, labels[action], disabled=not has_points))
    edits: ui.ActionRow[ui.LayoutView] = ui.ActionRow()
    for action in ("remove", "swap", "add"):
        edits.add_item(
            _button(
                sid,
                action,
                labels[action],
                disabled=not has_points,
                style=discord.ButtonStyle.success,
            )
        )
    container: ui.Container[ui.LayoutView] = ui.Container(accent_colour=discord.Colour.blurple())
    container.add_item(
        ui.MediaGallery(
            discord.MediaGalleryItem(
                f"attachment://{board_image_filename(board)}",
                description=translate(locale, "Frame {frame}", frame=board.frame_index),
            )
        )
    )
    container.add_item(ui.TextDisplay(board_text(board, locale, emulator=emulator)))
    container.add_item(nav)
    container.add_item(tools)
    container.add_item(edits)
    view = ui.LayoutView(timeout=None)
    view.add_item(container)
    _add_source(view, video_filename, locale)
    return view


def notice_layout(text: str, *, video_filename: str | None, locale: object = None) -> ui.LayoutView:
    """A board without buttons: while opening, or after the session ended."""
    view = ui.LayoutView(timeout=None)
    view.add_item(
        ui.Container(ui.TextDisplay(render(text, locale)), accent_colour=discord.Colour.dark_grey())
    )
    _add_source(view, video_filename, locale)
    return view


def _add_source(view: ui.LayoutView, video_filename: str | None, locale: object) -> None:
    if video_filename:
        view.add_item(ui.TextDisplay(SOURCE_LABEL.render(locale)))
        view.add_item(ui.File(f"attachment://{video_filename}"))


def source_attachment(message: discord.Message) -> discord.Attachment | None:
    """The video the board message carries (anything that is not the board image)."""
    return next(
        (a for a in message.attachments if not a.filename.startswith(BOARD_IMAGE_NAME + ".")), None
    )


def board_lock(client: discord.Client, session_id: int) -> BoardLock:
    """The session's board lock (`bot.editing.locks.SessionLocks.board`), from this bot's
    editing service. Take it *before* the change whose board you will publish."""
    return editing_service(client).locks.board(session_id)


Respond = Callable[..., Awaitable[Any]]


async def publish_board(
    client: discord.Client,
    session: Session,
    board: BoardView,
    lock: BoardLock,
    message: discord.Message | None = None,
    *,
    respond: Respond | None = None,
) -> None:
    """Put the session's board as it is now on its message, after a change drawn as `board`.

    `board` may be older than what is shown (members acting at once), or on another frame than
    the board's (a mark on frame 12 finishing after a member moved the board to 30): then the
    newer drawing stays, or the current frame is drawn, so the board never goes back in time.
    `respond` edits through the member's interaction (their click's answer) instead of the bot's
    channel edit; with it the message is edited even when nothing changed."""
    service = editing_service(client)
    async with lock:
        stored = await service.store.get_session(session.id)
        if stored is None or not stored.is_active:
            return  # ended meanwhile: whoever ended it retires the board
        shown = lock.shown
        newest = shown if shown is not None and shown.stamp > board.stamp else board
        if newest.frame_index != clamp_frame(stored, stored.current_frame):
            newest = await service.board(session.id)
        if newest is shown and respond is None:
            return
        await update_board(client, stored, newest, message, respond=respond)
        lock.shown = newest


async def fetch_board_message(client: discord.Client, session: Session) -> discord.Message | None:
    if session.board_message_id is None:
        return None
    channel = client.get_channel(session.channel_id)
    if channel is None:
        try:
            channel = await client.fetch_channel(session.channel_id)
        except discord.HTTPException:
            return None
    if not isinstance(channel, discord.abc.Messageable):
        return None
    try:
        return await channel.fetch_message(session.board_message_id)
    except discord.NotFound:
        return None


async def show_board(
    message: discord.Message,
    board: BoardView,
    locale: object = None,
    *,
    emulator: bool = False,
    respond: Respond | None = None,
) -> discord.Message:
    """Edit the board message in place: one edit, the new image replacing the old one (through
    `respond`, the interaction of a click on it, when given)."""
    video = source_attachment(message)
    keep: list[discord.Attachment | discord.File] = [video] if video else []
    edit = respond if respond is not None else message.edit
    return await edit(
        view=board_layout(
            board,
            video_filename=video.filename if video else None,
            locale=locale,
            emulator=emulator,
        ),
        attachments=[*keep, board_file(board, locale)],
        allowed_mentions=NO_MENTIONS,
    )


async def show_notice(message: discord.Message, text: str, locale: object = None) -> None:
    """Turn a board into a notice (ended or replaced): buttons gone, video kept."""
    video = source_attachment(message)
    try:
        await message.edit(
            view=notice_layout(
                text, video_filename=video.filename if video else None, locale=locale
            ),
            attachments=[video] if video else [],
            allowed_mentions=NO_MENTIONS,
        )
    except discord.HTTPException as exc:
        log.warning("could not retire board %s: %s", message.id, exc)


async def retire_board(client: discord.Client, session: Session, text: str = ENDED_TEXT) -> None:
    message = await fetch_board_message(client, session)
    if message is not None:
        await show_notice(message, text, server_locale(client, session.guild_id))


async def update_board(
    client: discord.Client,
    session: Session,
    board: BoardView,
    message: discord.Message | None = None,
    *,
    respond: Respond | None = None,
) -> discord.Message | None:
    """Show `board` on the session's board message (the caller's, else the one this bot edited
    last, else fetched; `respond` is only used when `message` is the board)."""
    known = board_messages(client)
    if message is not None and message.id == session.board_message_id:
        target: discord.Message | None = message
    else:
        respond = None
        target = known.get(session.id, session.board_message_id)
        if target is not None:
            try:
                return await _show_and_keep(client, session, board, target, None)
            except discord.NotFound:
                known.forget(session.id)  # deleted since: fetching tells whether it is gone
        target = await fetch_board_message(client, session)
    if target is None:
        return None
    return await _show_and_keep(client, session, board, target, respond)


async def _show_and_keep(
    client: discord.Client,
    session: Session,
    board: BoardView,
    target: discord.Message,
    respond: Respond | None,
) -> discord.Message:
    edited = await show_board(
        target,
        board,
        server_locale(client, session.guild_id),
        emulator=on_emulator(client),
        respond=respond,
    )
    # Never keep a message tied to an interaction: editing it later would go through that
    # interaction (its token expires, and it would answer the click again). The plain message
    # in hand still has the video attachment the next edit keeps.
    kept = edited if respond is None else target
    if not isinstance(kept, discord.InteractionMessage):
        board_messages(client).remember(session.id, kept)
    return edited


async def usable_session(interaction: discord.Interaction, session_id: int) -> Session | None:
    """The session behind a board control, or None after telling the user why not (the
    interaction must already be acknowledged). Raises PolicyError in a disabled channel."""
    store = store_of(interaction.client)
    await ensure_channel_enabled(interaction, store)
    session = await store.get_session(session_id)
    if session is None or not session.is_active:
        message = interaction.message
        if message is not None and session is not None and session.board_message_id == message.id:
            await show_notice(message, ENDED_TEXT, channel_locale(interaction))
        await send_reply(interaction, SESSION_ENDED)
        return None
    if session.channel_id != interaction.channel_id or session.guild_id != interaction.guild_id:
        await send_reply(interaction, OTHER_CHANNEL)
        return None
    return session
