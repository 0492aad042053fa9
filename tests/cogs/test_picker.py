"""The zoom picker through the Discord stand-in: Pick points, a cell, a sub-cell, Back.

The video is 1920x1080 (larger than the 1280 px board) with a fine checkered texture over a
colour gradient and a flat green square in the middle, so an enlarged cell cut from the
full-resolution frame and one cut from the board's image look clearly different.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from discord import ui
from PIL import Image

from bot.editing.picking import PickerView
from bot.i18n import Msg
from bot.media import FrameExtractor, write_mp4
from bot.zoom import cell_names, parse_cell_name
from cogs.core.cooldowns import SELECTION
from cogs.editing.picker import TEMPLATE, PickerTarget, parse_target, picker_layout
from tests.cogs.harness import KlingWorld, board_image, kling_world
from tests.discord_twin import TwinMessage
from tests.discord_twin.bodies import count_components
from tests.discord_twin.model import walk_components

__all__ = ["kling_world"]

W, H, FPS, SECONDS = 1920, 1080, 24, 2.0
SQUARE = (780, 375, 1140, 735)  # x0, y0, x1, y1: covers the frame's centre (C3 then C3)
CELLS = [name for row in cell_names() for name in row]


def textured_frame() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    checker = ((x // 2 + y // 2) % 2) * 90
    frame = np.empty((H, W, 3), dtype=np.uint8)
    frame[..., 0] = np.clip(60 + x * 120 // W + checker, 0, 255)
    frame[..., 1] = np.clip(40 + y * 120 // H + checker, 0, 255)
    frame[..., 2] = np.clip(50 + checker, 0, 255)
    x0, y0, x1, y1 = SQUARE
    frame[y0:y1, x0:x1] = (50, 190, 70)
    return frame


@pytest.fixture(scope="module")
def textured_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("picker") / "textured.mp4"
    frame = textured_frame()
    write_mp4((frame for _ in range(round(FPS * SECONDS))), path, FPS)
    return path


def picture(message: TwinMessage) -> np.ndarray:
    image = next(f for f in message.files if f.filename.startswith("picker."))
    return np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB"), dtype=np.int16)


def enabled(message: TwinMessage) -> list[str]:
    return [str(b.get("label")) for b in message.buttons if not b.get("disabled")]


def region_of(cell: str) -> tuple[float, float, float, float]:
    column, row = ord(cell[0]) - ord("A"), int(cell[1]) - 1
    return column / 5, row / 5, (column + 1) / 5, (row + 1) / 5


def resized(image: Image.Image, cell: str, size: tuple[int, int]) -> np.ndarray:
    left, top, right, bottom = region_of(cell)
    box = (left * image.width, top * image.height, right * image.width, bottom * image.height)
    return np.asarray(image.resize(size, Image.Resampling.BICUBIC, box=box), dtype=np.int16)


def likeness(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(median difference, share of pixels within 12 levels); the grid, the labels and the
    crosses drawn over the picture are the pixels that differ."""
    diff = np.abs(a - b).mean(axis=2)
    return float(np.median(diff)), float((diff < 12).mean())


async def click_and_edit(
    world: KlingWorld, actor: Any, message: TwinMessage, label: str
) -> tuple[Any, TwinMessage]:
    """Click `label` on a picker message and wait until that same message was edited."""
    before = world.twin.find_message(message.id).edit_count
    handle = await actor.click(world.twin.find_message(message.id), label)
    edited = await world.twin.wait_until(
        lambda: (m := world.twin.find_message(message.id)).edit_count > before and m, 30
    )
    return handle, edited


async def emulator_clicks(world: KlingWorld, frame: int = 0) -> list[tuple[float, float]]:
    assert world.current is not None
    session = await world.current.editing.active_session(world.guild.id, world.channel.id)
    assert session is not None and session.kling_session_id
    kling = world.emulator.runtime.session(session.kling_session_id)
    return [(c.x, c.y) for c in kling.clicks.get(frame, [])]


async def open_picker(world: KlingWorld, actor: Any, board: TwinMessage) -> TwinMessage:
    handle = await actor.click(board, "Pick points")
    return await world.reply(handle, clicked=board)


async def test_pick_zoom_mark_and_back(kling_world: KlingWorld, textured_video: Path) -> None:
    world = kling_world
    alice = world.alice
    source = FrameExtractor(textured_video).get(0)
    async with world.bot():
        board = await world.open_board(video=textured_video)
        picker = await open_picker(world, alice, board)
        assert picker.ephemeral and picker.visible_to == alice.id
        assert picker.button_labels == [*CELLS, "Back"]
        assert enabled(picker) == CELLS  # Back is there, disabled, on the whole frame
        assert "Frame 0" in picker.text and "· cell" not in picker.text
        assert count_components(picker.components) <= 40
        whole = picture(picker)
        assert whole.shape == (576, 1024, 3)
        # The whole frame at picker size, from the video itself (grid and labels aside).
        median, close = likeness(
            whole, np.asarray(source.resize((1024, 576), Image.Resampling.BICUBIC), dtype=np.int16)
        )
        assert median < 12 and close > 0.6, (median, close)

        # B2: the cell enlarged from the full-resolution frame, not from the board.
        _, zoomed = await click_and_edit(world, alice, picker, "B2")
        assert zoomed.id == picker.id and "cell B2" in zoomed.text
        assert enabled(zoomed) == [*CELLS, "Back"]
        cut = picture(zoomed)
        median, close = likeness(cut, resized(source, "B2", (1024, 576)))
        assert median <= 4 and close > 0.8, (median, close)
        board_cut = resized(
            Image.fromarray(board_image(world.twin.find_message(board.id)).astype(np.uint8)),
            "B2",
            (1024, 576),
        )
        from_board, _ = likeness(cut, board_cut)
        assert from_board > 4 * max(median, 1.0), (from_board, median)

        # Back: the whole frame again, in the same message.
        _, back = await click_and_edit(world, alice, picker, "Back")
        assert "· cell" not in back.text and enabled(back) == CELLS

        # C3 then C3: the frame's centre, marked through the same path as /kling mark.
        messages_before = len(world.channel.messages)
        edits_before = world.twin.find_message(board.id).edit_count
        await click_and_edit(world, alice, picker, "C3")
        handle, marked = await click_and_edit(world, alice, picker, "C3")
        assert handle.followups == []  # edited in place, nothing posted
        assert marked.id == picker.id and len(world.channel.messages) == messages_before
        assert "Marked C3 › C3 at (0.50, 0.50) on frame 0: 1 point(s)" in marked.text
        assert enabled(marked) == CELLS  # ready for the next point, on the whole frame
        ((x, y),) = await emulator_clicks(world)
        assert abs(x - 0.5) <= 0.005 and abs(y - 0.5) <= 0.005
        channel_board = await world.board(predicate=lambda m: "#1 by" in m.text)
        assert channel_board.id == board.id and channel_board.edit_count > edits_before
        assert f"<@{alice.id}> (1)" in channel_board.text
        # The mask (the green square) now shows on the picker: its centre is no longer green.
        centre = picture(marked)[288 + 30, 512 + 30]
        assert not (abs(centre - np.array([50, 190, 70])) < 25).all(), centre

        # B2 then A1: (0.22, 0.22).
        await click_and_edit(world, alice, picker, "B2")
        _, marked = await click_and_edit(world, alice, picker, "A1")
        assert "Marked B2 › A1 at (0.22, 0.22)" in marked.text
        second = (await emulator_clicks(world))[1]
        assert abs(second[0] - 0.22) <= 0.005 and abs(second[1] - 0.22) <= 0.005
        await world.board(predicate=lambda m: "#2 by" in m.text)


async def test_two_members_pick_independently_and_survive_a_restart(
    kling_world: KlingWorld, textured_video: Path
) -> None:
    world = kling_world
    alice, bob = world.alice, world.bob
    async with world.bot():
        board = await world.open_board(video=textured_video)
        mine = await open_picker(world, alice, board)
        theirs = await open_picker(world, bob, board)
        assert mine.id != theirs.id and theirs.visible_to == bob.id
        await click_and_edit(world, bob, theirs, "D4")
        assert "· cell" not in world.twin.find_message(mine.id).text  # alice's is untouched
        assert "cell D4" in world.twin.find_message(theirs.id).text
    async with world.bot():  # a new process: the ids carry the state
        _, marked = await click_and_edit(world, bob, theirs, "E5")
        assert "Marked D4 › E5" in marked.text
        board = await world.board(predicate=lambda m: "#1 by" in m.text)
        assert f"<@{bob.id}> (1)" in board.text
        ((x, y),) = await emulator_clicks(world)
        assert (x, y) == (0.78, 0.78)  # (3 + 4.5/5)/5 exactly, as a float
        _, zoomed = await click_and_edit(world, alice, mine, "A5")
        assert "cell A5" in zoomed.text


async def test_the_picker_does_not_wait_for_the_channels_board(
    kling_world: KlingWorld, textured_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a mark the member's picker and the channel's board are drawn at once: a board that
    is slow to draw does not hold the picker back, and it still follows."""
    world = kling_world
    alice = world.alice
    async with world.bot():
        board = await world.open_board(video=textured_video)
        picker = await open_picker(world, alice, board)
        assert world.current is not None
        service = world.current.editing
        release = asyncio.Event()
        draw_board = service.board_after

        async def slow_board(session_id: int, frame_index: int) -> Any:
            await release.wait()
            return await draw_board(session_id, frame_index)

        monkeypatch.setattr(service, "board_after", slow_board)
        edits = world.twin.find_message(board.id).edit_count
        await click_and_edit(world, alice, picker, "C3")
        _, marked = await click_and_edit(world, alice, picker, "C3")
        assert "Marked C3 › C3" in marked.text
        # The new mask is on the picker already, while the board is still being drawn.
        centre = picture(marked)[288 + 30, 512 + 30]
        assert not (abs(centre - np.array([50, 190, 70])) < 25).all(), centre
        channel_board = world.twin.find_message(board.id)
        assert channel_board.edit_count == edits and "#1 by" not in channel_board.text
        release.set()
        await world.board(predicate=lambda m: "#1 by" in m.text)


async def test_limits_and_cooldowns_apply_as_for_mark(
    kling_world: KlingWorld, textured_video: Path
) -> None:
    world = kling_world
    alice, calls = world.alice, world.emulator.faults.calls
    world.freeze_cooldowns()
    async with world.bot():
        board = await world.open_board(video=textured_video)
        picker = await open_picker(world, alice, board)
        for count in range(1, SELECTION.burst + 1):
            await click_and_edit(world, alice, picker, "A1")
            _, marked = await click_and_edit(world, alice, picker, f"A{count}")
            assert f"{count} point(s) there now" in marked.text
        selections = calls["add-selection"]
        await click_and_edit(world, alice, picker, "A1")
        refused = await alice.click(world.twin.find_message(picker.id), "E5")
        reply = await world.reply(refused, clicked=picker)
        assert reply.ephemeral and reply.content.startswith("Slow down: try again in 2 s")
        assert calls["add-selection"] == selections

        # Ten points on the frame: the picker refuses an eleventh, and Kling never hears of it.
        world.pass_cooldowns(60)
        await (await alice.slash("kling mark", points="B1 B2 B3 B4 B5 C1")).response()
        world.pass_cooldowns(60)
        selections = calls["add-selection"]
        refused = await alice.click(world.twin.find_message(picker.id), "E5")
        reply = await world.reply(refused, clicked=picker)
        assert "would be point 11" in reply.content and "at most 10" in reply.content
        assert calls["add-selection"] == selections
        assert len(await emulator_clicks(world)) == 10
        _, back = await click_and_edit(world, alice, picker, "Back")
        assert "the most Kling takes" in back.text


@pytest.mark.parametrize(
    "custom_id",
    [
        "kling:p:0:0:C3",
        "kling:p:9223372036854775808:0:C3",
        "kling:p:1:1234567890:C3",
        "kling:p:1:0:F1",
        "kling:p:1:0:A6",
        "kling:p:1:0:c3",
        "kling:p:1:0:C3:A1:B2",
        "kling:p:1:0:C3:",
        "kling:p:1:0:Back",
        "kling:p:1:0:C3:back",
    ],
)
def test_ids_no_picker_makes_name_nothing(custom_id: str) -> None:
    match = re.fullmatch(TEMPLATE, custom_id)
    assert match is not None  # it reaches the picker, which answers "no longer valid"
    assert parse_target(match["session"], match["frame"], match["path"]) is None


def test_ids_round_trip() -> None:
    c3, a1 = parse_cell_name("C3"), parse_cell_name("A1")
    for target in (
        PickerTarget(9223372036854775807, 0),
        PickerTarget(5, 12, c3),
        PickerTarget(5, 999999999, c3, a1),
    ):
        match = re.fullmatch(TEMPLATE, target.custom_id)
        assert match is not None and len(target.custom_id) <= 100
        assert parse_target(match["session"], match["frame"], match["path"]) == target


async def test_the_layout_stays_within_40_components_with_a_full_link_row() -> None:
    picker = PickerView(
        session_id=3,
        frame_index=7,
        cell=parse_cell_name("B2"),
        image=b"",
        image_format="jpeg",
        points_on_frame=10,
    )
    links = [ui.Button(label=f"link {n}", url=f"https://example.org/{n}") for n in range(4)]
    payload = picker_layout(picker, note=Msg("Marked."), links=links).to_components()
    # Container, gallery, text, six rows, 25 cells, Back and four links.
    assert count_components(payload) == 3 + 6 + 26 + 4 <= 40
    buttons = [c for c in walk_components(payload) if c.get("type") == 2]
    assert [b["custom_id"] for b in buttons[:2]] == ["kling:p:3:7:B2:A1", "kling:p:3:7:B2:B1"]
    assert buttons[25]["custom_id"] == "kling:p:3:7:back" and not buttons[25].get("disabled")
