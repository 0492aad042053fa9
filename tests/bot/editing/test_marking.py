"""Opening a session, marking by cell and coordinates, undo, clear, frames: against the emulator."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.editing import BoardView
from bot.errors import UserFacingError
from bot.kling import KlingError
from bot.media import write_mp4
from bot.render.board import MASK_FILL_ALPHA, mask_colour
from bot.render.colours import contrast_colour
from bot.storage import SessionConflictError
from tests.bot.editing.conftest import (
    ALICE,
    BACKDROP,
    BALL,
    BALL_CENTRE,
    BOB,
    CHANNEL,
    GUILD,
    HEIGHT,
    SQUARE,
    SQUARE_CENTRE,
    WIDTH,
    Rig,
)


def board_pixels(board: BoardView) -> np.ndarray:
    assert board.image_format == "jpeg"
    image = Image.open(io.BytesIO(board.image))
    assert image.format == "JPEG"
    assert image.size == (WIDTH, HEIGHT)
    return np.asarray(image.convert("RGB")).astype(int)


def sample(pixels: np.ndarray, x: float, y: float, dx: int = 30, dy: int = 25) -> np.ndarray:
    """Mean colour of a small patch offset from (x, y), clear of the numbered dot."""
    cx, cy = int(x * WIDTH) + dx, int(y * HEIGHT) + dy
    return pixels[cy - 4 : cy + 5, cx - 4 : cx + 5].reshape(-1, 3).mean(axis=0)


def tinted(
    colour: tuple[int, int, int],
    object_id: int,
    others: dict[int, tuple[int, int, int]] | None = None,
) -> np.ndarray:
    """The fill over a flat object of ``colour``: the palette colour standing out most from it
    that no object of a smaller id (``others``: id -> object colour) has taken."""
    taken: list[tuple[int, int, int]] = []
    for other_id, other in sorted((others or {}).items()):
        if other_id < object_id:
            taken.append(contrast_colour(np.array([other]), taken, mask_colour(other_id)))
    fill = contrast_colour(np.array([colour]), taken, mask_colour(object_id))
    return (1 - MASK_FILL_ALPHA) * np.array(colour) + MASK_FILL_ALPHA * np.array(fill)


def close(actual: np.ndarray, expected: np.ndarray | tuple[int, int, int], tol: float = 18) -> bool:
    return bool(np.abs(actual - np.asarray(expected)).max() <= tol)


async def stored_object_ids(rig: Rig, session_id: int, frame: int) -> list[int]:
    return [m["object_id"] for m in await rig.store.get_frame_masks(session_id, frame)]


async def test_open_mark_undo_clear_remark(rig: Rig) -> None:
    board = await rig.service.open_session(
        guild_id=GUILD,
        channel_id=CHANNEL,
        user_id=ALICE,
        video=rig.video,
        video_url=rig.video_url,
        source_message_id=77,
    )
    sid = board.session_id
    assert (board.frame_index, board.total_frames, board.fps) == (0, 48, 24)
    assert board.total_points == 0 and board.expires_at is not None
    assert board.grid == "columns A–J, rows 1–6"
    pixels = board_pixels(board)
    assert close(sample(pixels, *BALL_CENTRE), BALL)  # no mask yet: the ball as it is
    session = await rig.store.get_session(sid)
    assert session is not None and session.kling_session_id and session.source_message_id == 77

    # Mark the ball by its grid cell on frame 5.
    board = await rig.service.mark(sid, points="C4", user_id=ALICE, frame=5)
    assert board.frame_index == 5 and board.marked_frames == ((5, 1),)
    assert [(p.number, p.x, p.y) for p in board.points_on_frame] == [(1, 0.25, 3.5 / 6)]
    (ball_id,) = await stored_object_ids(rig, sid, 5)
    pixels = board_pixels(board)
    assert close(sample(pixels, *BALL_CENTRE), tinted(BALL, ball_id))
    assert close(sample(pixels, *SQUARE_CENTRE), SQUARE)  # not marked: untouched
    assert close(sample(pixels, 0.45, 0.8), BACKDROP)

    # Bob marks the square by coordinates on the same frame (the board's current frame).
    board = await rig.service.mark(sid, points="0.72,0.35", user_id=BOB)
    assert board.frame_index == 5 and board.marked_frames == ((5, 2),)
    ids = await stored_object_ids(rig, sid, 5)
    assert len(ids) == 2
    square_id = next(i for i in ids if i != ball_id)
    pixels = board_pixels(board)
    assert close(sample(pixels, *SQUARE_CENTRE), tinted(SQUARE, square_id, {ball_id: BALL}))
    assert close(sample(pixels, *BALL_CENTRE), tinted(BALL, ball_id, {square_id: SQUARE}))
    assert board.contributors == ((ALICE, 1), (BOB, 1))
    points = await rig.store.list_points(sid)
    assert [(p.x, p.y, p.added_by) for p in points] == [(0.25, 3.5 / 6, ALICE), (0.72, 0.35, BOB)]

    # Undo (the last point: Bob's square) sends the exact stored floats; Kling accepts only those.
    board = await rig.service.undo(sid, user_id=ALICE)
    assert [p.x for p in board.points_on_frame] == [0.25]
    assert await stored_object_ids(rig, sid, 5) == [ball_id]
    assert close(sample(board_pixels(board), *SQUARE_CENTRE), SQUARE)

    # Undo a chosen point by id (the ball); then the frame has no masks.
    choices = await rig.service.point_choices(sid, "c4")
    assert len(choices) == 1 and choices[0][0].startswith("#1 on frame 5 at C4")
    board = await rig.service.undo(sid, user_id=ALICE, point_id=choices[0][1])
    assert board.total_points == 0 and await stored_object_ids(rig, sid, 5) == []
    assert close(sample(board_pixels(board), *BALL_CENTRE), BALL)

    # Re-mark on two frames, then clear everything.
    await rig.service.mark(sid, points="C4 0.72,0.35", user_id=ALICE, frame=0)
    board = await rig.service.mark(sid, points="25%,58.3%", user_id=BOB, time_text="1s")
    assert board.frame_index == 24 and board.marked_frames == ((0, 2), (24, 1))
    before = rig.calls
    board = await rig.service.clear(sid, user_id=ALICE)
    assert rig.calls.get("clear-selection", 0) == before.get("clear-selection", 0) + 1
    assert board.total_points == 0 and await rig.store.list_frame_masks(sid) == {}
    assert close(sample(board_pixels(board), *BALL_CENTRE), BALL)

    # Re-mark after clearing: Kling's session is still usable.
    board = await rig.service.mark(sid, points="320,420px 0.72,0.35", user_id=BOB)
    assert board.frame_index == 24 and len(board.points_on_frame) == 2
    ball_id, square_id = await stored_object_ids(rig, sid, 24)
    pixels = board_pixels(board)
    assert close(sample(pixels, *BALL_CENTRE), tinted(BALL, ball_id, {square_id: SQUARE}))
    assert close(sample(pixels, *SQUARE_CENTRE), tinted(SQUARE, square_id, {ball_id: BALL}))
    assert close(sample(pixels, 0.45, 0.8), BACKDROP)


async def test_goto_frame_and_board_shows_that_frames_masks(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=3)
    board = await rig.service.goto_frame(sid, delta=10)
    assert board.frame_index == 13 and board.points_on_frame == ()
    assert close(sample(board_pixels(board), *BALL_CENTRE), BALL)  # frame 13 has no masks
    board = await rig.service.goto_frame(sid, delta=-100)
    assert board.frame_index == 0
    board = await rig.service.goto_frame(sid, delta=+100)
    assert board.frame_index == 47
    board = await rig.service.goto_frame(sid, time_text="0.125s")
    assert board.frame_index == 3 and len(board.points_on_frame) == 1
    assert board.time_s == pytest.approx(0.125)
    board = await rig.service.goto_frame(sid, frame=20)
    assert board.frame_index == 20
    again = await rig.service.board(sid)
    assert again.frame_index == 20 and again.image == board.image  # cached frame, same drawing
    with pytest.raises(UserFacingError, match=r"(?i)outside this video"):
        await rig.service.goto_frame(sid, frame=48)
    with pytest.raises(UserFacingError, match=r"(?i)after the end"):
        await rig.service.goto_frame(sid, time_text="3s")
    assert (await rig.service.board(sid)).frame_index == 20


async def test_bad_points_and_frames_change_nothing(rig: Rig) -> None:
    sid = await rig.open()
    before = rig.calls
    for text, message in [
        ("Z9", "not a cell on this board"),
        ("1.5,0.2", "outside the frame"),
        ("C4 apple", "`apple` is not a point"),
        ("", "No points given"),
    ]:
        with pytest.raises(UserFacingError, match=message) as error:
            await rig.service.mark(sid, points=text, user_id=ALICE)
        assert not error.value.user_message[0].islower()
    with pytest.raises(UserFacingError, match=r"(?i)not both"):
        await rig.service.mark(sid, points="C4", user_id=ALICE, frame=1, time_text="1s")
    with pytest.raises(UserFacingError, match=r"(?i)outside this video"):
        await rig.service.mark(sid, points="C4", user_id=ALICE, frame=-1)
    with pytest.raises(UserFacingError, match="no points to undo"):
        await rig.service.undo(sid, user_id=ALICE)
    assert rig.calls == before
    assert await rig.store.list_points(sid) == []


async def test_session_conflict_and_replace(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE)
    inits = rig.calls["init-selection"]
    with pytest.raises(SessionConflictError) as conflict:
        await rig.open()
    assert conflict.value.existing.id == sid
    assert "already has an editing session" in conflict.value.user_message
    assert rig.calls["init-selection"] == inits  # refused before spending a Kling call
    new_sid = await rig.open(replace=True)
    assert new_sid != sid
    assert (await rig.service.require_session(GUILD, CHANNEL)).id == new_sid
    with pytest.raises(UserFacingError, match="session has ended"):
        await rig.service.mark(sid, points="C4", user_id=ALICE)
    await rig.service.end_session(new_sid)
    assert await rig.service.active_session(GUILD, CHANNEL) is None
    with pytest.raises(UserFacingError, match="no editing session in this channel"):
        await rig.service.require_session(GUILD, CHANNEL)


async def test_kling_failure_leaves_everything_as_it_was(rig: Rig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE, frame=2)
    before_points = await rig.store.list_points(sid)
    before_masks = await rig.store.list_frame_masks(sid)
    rig.emulator.faults.fail("add-selection", 5000)
    with pytest.raises(KlingError) as error:
        await rig.service.mark(sid, points="0.72,0.35", user_id=BOB, frame=7)
    assert error.value.user_message
    rig.emulator.faults.fail("delete-selection", 1301)
    with pytest.raises(KlingError) as error:
        await rig.service.undo(sid, user_id=BOB)
    assert "content policy" in error.value.user_message
    assert await rig.store.list_points(sid) == before_points
    assert await rig.store.list_frame_masks(sid) == before_masks
    assert (await rig.service.board(sid)).frame_index == 2
    # Kling still has exactly the stored click: undo with the stored floats works.
    board = await rig.service.undo(sid, user_id=BOB)
    assert board.total_points == 0


async def test_session_ended_while_marking_takes_back_the_click(rig: Rig) -> None:
    sid = await rig.open()
    session = await rig.store.get_session(sid)
    assert session is not None and session.kling_session_id
    # The session ends between Kling's answer and the database write (another process).
    rig.emulator.faults.stall("add-selection")
    mark = asyncio.create_task(rig.service.mark(sid, points="C4", user_id=ALICE))
    async with asyncio.timeout(30):
        await rig.emulator.faults.holding(1)  # Kling has the click; its answer is held
    assert await rig.store.end_session(sid)
    rig.emulator.faults.release()
    with pytest.raises(UserFacingError, match="session has ended"):
        await mark
    clicks = rig.emulator.store.sessions[session.kling_session_id].clicks
    assert not any(clicks.values())  # the click Kling took was taken back


async def test_check_and_fix_a_small_video(rig: Rig, tmp_path: Path) -> None:
    small = tmp_path / "small.mp4"
    frames = (np.full((360, 640, 3), 90, np.uint8) for _ in range(72))
    await asyncio.to_thread(write_mp4, frames, small, 24)
    check = await rig.service.check_video(small)
    assert not check.ok and check.fixable
    assert [v.rule for v in check.violations] == ["dimensions"]
    report = await rig.service.fix_video(small)
    assert report.path.is_relative_to(rig.media_dir)
    fixed = await rig.service.check_video(report.path)
    assert fixed.ok and fixed.info is not None and min(fixed.info.width, fixed.info.height) >= 720
    junk = tmp_path / "junk.mp4"
    await asyncio.to_thread(junk.write_bytes, b"not a video at all")
    unreadable = await rig.service.check_video(junk)
    assert unreadable.info is None and unreadable.unreadable_reason and not unreadable.fixable
    with pytest.raises(UserFacingError):
        await rig.service.fix_video(junk)
