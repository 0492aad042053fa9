"""The zoom picker (SPEC §10): mark a point with two clicks, privately, from the board.

**Pick points** on the board answers the clicker alone with the frame split into a 5x5 grid
(cells A1 to E5) and one button per cell. A cell button shows that cell enlarged (cut from the
full-resolution frame) with its own 5x5 grid; a sub-cell button marks the centre of that sub-cell
through the editing service's `mark`, exactly as `/kling mark` does (cooldown, channel check,
limits, attribution, the channel's board updated), then shows the frame again with the new mask.
Every step edits the same private message in place.

The buttons are `DynamicItem`s whose custom ids carry the whole state, so a picker keeps working
after a restart: `kling:p:<session>:<frame>:<cell>` opens a cell, `...:<cell>:<sub>` marks,
`...:back` returns to the whole frame.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord
from discord import ui

from bot.editing.picking import PickerView, build_picker
from bot.grid import CellRef
from bot.i18n import Joined, Msg, Text
from bot.ids import row_id
from bot.storage import Session
from bot.zoom import ZOOM_GRID, cell_names, parse_cell_name, point_for, points_text
from cogs.core.cooldowns import SELECTION, enforce_cooldown
from cogs.core.kling_group import editing_service, store_of
from cogs.core.languages import member_locale
from cogs.core.replies import fit_view, send_reply
from cogs.core.tree import report_error
from cogs.editing.board import board_lock, publish_board, usable_session
from cogs.editing.board_buttons import INVALID_BUTTON
from cogs.editing.web_side import picker_link_button

PREFIX = "kling:p"
TEMPLATE = r"kling:p:(?P<session>[0-9]+):(?P<frame>[0-9]+):(?P<path>[A-Za-z0-9:]+)"
MAX_FRAME_DIGITS = 9  # far more frames than a Kling video has; bounds int() on a clicked id
IMAGE_NAME = "picker"
BACK = "back"

BACK_LABEL = Msg("Back", msgctxt="button")

WHERE = "picker button"


@dataclass(frozen=True)
class PickerTarget:
    """What a picker button does: show the whole frame (no cell), show ``cell`` enlarged (no
    sub), or mark the centre of ``sub`` inside ``cell``."""

    session_id: int
    frame: int
    cell: CellRef | None = None
    sub: CellRef | None = None

    @property
    def custom_id(self) -> str:
        parts = [PREFIX, str(self.session_id), str(self.frame)]
        if self.cell is None:
            parts.append(BACK)
        else:
            parts.append(ZOOM_GRID.cell_name(self.cell))
            if self.sub is not None:
                parts.append(ZOOM_GRID.cell_name(self.sub))
        return ":".join(parts)


def parse_target(session: str, frame: str, path: str) -> PickerTarget | None:
    """The target a clicked id names, or None when no picker of ours made it (numbers out of
    range, a cell not on the 5x5 grid, too many steps)."""
    session_id = row_id(session)
    if (
        session_id is None
        or not (frame.isascii() and frame.isdigit())
        or len(frame) > MAX_FRAME_DIGITS
    ):
        return None
    if path == BACK:
        return PickerTarget(session_id, int(frame))
    names = path.split(":")
    cells = [parse_cell_name(name) for name in names]
    if not 1 <= len(cells) <= 2 or any(cell is None for cell in cells):
        return None
    return PickerTarget(session_id, int(frame), cells[0], cells[1] if len(cells) == 2 else None)


class PickerButton(ui.DynamicItem[ui.Button[Any]], template=TEMPLATE):
    def __init__(
        self,
        target: PickerTarget | None,
        *,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        disabled: bool = False,
    ) -> None:
        # None: a clicked id that names nothing (see parse_target); it answers "no longer valid".
        custom_id = target.custom_id if target is not None else f"{PREFIX}:0:0:{BACK}"
        super().__init__(
            ui.Button(label=label or "?", style=style, disabled=disabled, custom_id=custom_id)
        )
        self.target = target

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> PickerButton:
        # No I/O here: the 3-second clock is running.
        button = item if isinstance(item, ui.Button) else None
        return cls(
            parse_target(match["session"], match["frame"], match["path"]),
            label=(button.label or "") if button else "",
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            target = self.target
            if target is None:
                await send_reply(interaction, INVALID_BUTTON)
            elif target.sub is not None:
                await mark_from_picker(interaction, target)
            else:
                await show_picker(interaction, target)
        except Exception as exc:  # every failure becomes one short message for the clicker
            await report_error(interaction, exc, where=WHERE)


async def picker_links(interaction: discord.Interaction, session: Session) -> list[ui.Item[Any]]:
    """Link buttons shown after **Back** on every picker message (at most 4 fit the row; the
    picker's component count leaves room for them): **Open the picker** when the web picker
    is on."""
    link = picker_link_button(interaction, session)
    return [link] if link is not None else []


def picker_file(picker: PickerView) -> discord.File:
    ext = "jpg" if picker.image_format == "jpeg" else picker.image_format
    return discord.File(io.BytesIO(picker.image), filename=f"{IMAGE_NAME}.{ext}")


def picker_text(picker: PickerView) -> Msg:
    if picker.cell_name is None:
        return Msg(
            "**Pick a point** · Frame {frame}\nClick the cell with the object in it: it "
            "opens enlarged.",
            frame=picker.frame_index,
        )
    return Msg(
        "**Pick a point** · Frame {frame} · cell {cell}\nClick the square whose centre "
        "(+) is on the object: the point is marked there. **Back** shows the whole frame.",
        frame=picker.frame_index,
        cell=picker.cell_name,
    )


def picker_layout(
    picker: PickerView,
    locale: object = None,
    *,
    note: Text | None = None,
    links: Sequence[ui.Item[Any]] = (),
) -> ui.LayoutView:
    """The picker message: the image, what to do, 25 cell buttons (5 rows, laid out as on the
    image) and a last row with **Back** (disabled on the whole frame) and any `links`."""
    sid, frame, cell = picker.session_id, picker.frame_index, picker.cell
    ext = "jpg" if picker.image_format == "jpeg" else picker.image_format
    alt = (
        Msg("Frame {frame} with a 5x5 grid", frame=frame)
        if cell is None
        else Msg(
            "Cell {cell} of frame {frame}, enlarged, with a 5x5 grid",
            cell=picker.cell_name,
            frame=frame,
        )
    )
    container: ui.Container[ui.LayoutView] = ui.Container(accent_colour=discord.Colour.blurple())
    container.add_item(
        ui.MediaGallery(
            discord.MediaGalleryItem(
                f"attachment://{IMAGE_NAME}.{ext}", description=alt.render(locale)
            )
        )
    )
    lines: list[object] = [note] if note is not None else []
    lines.append(picker_text(picker))
    if picker.points_on_frame >= picker.max_points:
        lines.append(
            Msg(
                "This frame has {max} points, the most Kling takes: undo one, or pick "
                "points on another frame.",
                max=picker.max_points,
            )
        )
    container.add_item(ui.TextDisplay(Joined(lines, "\n").render(locale)))
    for names in cell_names():
        row: ui.ActionRow[ui.LayoutView] = ui.ActionRow()
        for name in names:
            ref = parse_cell_name(name)
            target = (
                PickerTarget(sid, frame, ref)
                if cell is None
                else PickerTarget(sid, frame, cell, ref)
            )
            row.add_item(PickerButton(target, label=name))
        container.add_item(row)
    last: ui.ActionRow[ui.LayoutView] = ui.ActionRow()
    last.add_item(
        PickerButton(
            PickerTarget(sid, frame), label=BACK_LABEL.render(locale), disabled=cell is None
        )
    )
    for link in links:
        last.add_item(link)
    container.add_item(last)
    view = ui.LayoutView(timeout=None)
    view.add_item(container)
    return fit_view(view)


async def _picker_for(
    interaction: discord.Interaction, session: Session, frame: int, cell: CellRef | None
) -> PickerView:
    service = editing_service(interaction.client)
    return await build_picker(
        store_of(interaction.client),
        session,
        service.media_dir,
        frame_index=frame,
        cell=cell,
        locale=member_locale(interaction),
    )


async def open_picker(interaction: discord.Interaction, session_id: int) -> None:
    """**Pick points** on the board: a new private message with the board's frame."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    session = await usable_session(interaction, session_id)
    if session is None:
        return
    frame = max(0, min(session.current_frame, session.video.total_frame - 1))
    picker = await _picker_for(interaction, session, frame, None)
    locale = member_locale(interaction)
    view = picker_layout(picker, locale, links=await picker_links(interaction, session))
    await interaction.followup.send(view=view, file=picker_file(picker), ephemeral=True)


async def show_picker(interaction: discord.Interaction, target: PickerTarget) -> None:
    """Back or a cell: the picker message redrawn in place (UPDATE_MESSAGE). Nothing here
    calls Kling, so the answer is the first response, without a deferral."""
    session = await usable_session(interaction, target.session_id)
    if session is None:
        return
    picker = await _picker_for(interaction, session, target.frame, target.cell)
    view = picker_layout(
        picker, member_locale(interaction), links=await picker_links(interaction, session)
    )
    await interaction.response.edit_message(view=view, attachments=[picker_file(picker)])


async def mark_from_picker(interaction: discord.Interaction, target: PickerTarget) -> None:
    """A sub-cell: mark its centre as `/kling mark` would, update the channel's board, and show
    the whole frame again (with the new mask) in the same private message."""
    if target.cell is None or target.sub is None:  # routed here only with both
        raise RuntimeError(f"a picker mark needs a cell and a sub-cell, not {target}")
    cell, sub = target.cell, target.sub  # the check above does not narrow inside refresh_picker
    enforce_cooldown(interaction, SELECTION)  # before acknowledging: a refusal stays private
    await interaction.response.defer()  # DEFERRED_UPDATE_MESSAGE: the picker is edited below
    session = await usable_session(interaction, target.session_id)
    if session is None:
        return
    x, y = point_for(cell, sub)
    service = editing_service(interaction.client)

    picker_drawn = asyncio.Event()

    async def refresh_picker() -> None:
        try:
            picker = await _picker_for(interaction, session, target.frame, None)
        finally:
            picker_drawn.set()
        note = Msg(
            "Marked {cell} › {sub} at ({x}, {y}) on frame {frame}: {count} point(s) there now.",
            cell=ZOOM_GRID.cell_name(cell),
            sub=ZOOM_GRID.cell_name(sub),
            x=f"{x:.2f}",
            y=f"{y:.2f}",
            frame=target.frame,
            count=picker.points_on_frame,
        )
        view = picker_layout(
            picker,
            member_locale(interaction),
            note=note,
            links=await picker_links(interaction, session),
        )
        await interaction.edit_original_response(view=view, attachments=[picker_file(picker)])

    lock = board_lock(interaction.client, session.id)  # before the change: see publish_board
    frame = await service.mark_points(
        session.id, points=points_text(x, y), user_id=interaction.user.id, frame=target.frame
    )

    async def refresh_board() -> None:
        await picker_drawn.wait()
        board = await service.board_after(session.id, frame)
        await publish_board(interaction.client, session, board, lock)

    # The member who clicked waits for their picker alone: it is drawn first (on a busy machine
    # two drawings at once would both be late), then the board is drawn while the picker is
    # being sent, and each message is edited as soon as it is ready.
    await asyncio.gather(refresh_board(), refresh_picker())
