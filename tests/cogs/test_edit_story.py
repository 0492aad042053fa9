"""The whole story of issue 5 through the Discord stand-in and the Kling emulator.

A member uploads a video with /kling edit, marks the red square by cell and by coordinates, sees
the mask on the board image, undoes, clears, re-marks through the board's modal, moves between
frames with the buttons, previews, and removes the square with confirmation; the edited video
arrives in the channel.
"""

from __future__ import annotations

import time

import numpy as np

from tests.cogs.harness import (
    SQUARE,
    SQUARE_COLOUR,
    KlingWorld,
    board_image,
    is_board,
    kling_world,
)
from tests.database import both_backends
from tests.discord_twin import TwinMessage

__all__ = ["both_backends", "kling_world"]  # the fixtures, for pytest
# Each story runs on SQLite and again on PostgreSQL.

X0, Y0, X1, Y1 = SQUARE
INSIDE = (slice(Y0 + 30, Y1 - 30), slice(X0 + 30, X1 - 30))
# Far from the square and from grid lines (cells are 128 x 120 px).
OUTSIDE = (slice(130, 230), slice(140, 250))


def region_shift(before: np.ndarray, after: np.ndarray, region: tuple[slice, slice]) -> float:
    return float(np.median(np.abs(after[region] - before[region]).sum(axis=2)))


def frame_of(board: TwinMessage) -> int:
    line = next(line for line in board.text.splitlines() if line.startswith("**Frame "))
    return int(line.removeprefix("**Frame ").split(" ")[0])


def result_message(message: TwinMessage) -> bool:
    return "Edit this result" in message.button_labels and any(
        f.filename.endswith(".mp4") for f in message.files
    )


async def test_the_whole_story(kling_world: KlingWorld) -> None:
    world = kling_world
    alice, bob = world.alice, world.bob
    async with world.bot():
        started = time.perf_counter()
        board = await world.open_board()
        world.timings["edit_to_board_s"] = time.perf_counter() - started
        clean = board_image(board)
        # The video itself rides on the board message: Discord re-hosts it.
        assert any(f.filename.endswith(".mp4") and f.duration_secs for f in board.files)
        assert "Frame 0 / 59" in board.text and "No points yet" in board.text
        assert "<t:" in board.text  # the expiry as a Discord relative timestamp
        assert np.abs(clean[INSIDE].mean(axis=(0, 1)) - SQUARE_COLOUR).max() < 25

        # Mark by grid cell: the board is edited in place and shows the mask over the square.
        reply = await (await alice.slash("kling mark", points="E3")).response()
        assert reply.ephemeral and "Marked frame 0" in reply.content
        assert reply.attachment("board.jpg")  # the member sees the new board at once
        board = await world.board(predicate=lambda m: "#1 by" in m.text)
        marked = board_image(board)
        assert region_shift(clean, marked, INSIDE) > 40, "no mask drawn over the square"
        assert region_shift(clean, marked, OUTSIDE) < 12, "the background changed"
        assert f"<@{alice.id}>" in board.text

        # Mark by normalised coordinates on another frame: the board moves there.
        await (await alice.slash("kling mark", points="0.5,0.5", frame=12)).response()
        board = await world.board(predicate=lambda m: "Frame 12 / 59" in m.text)
        assert "Marked frames (2/10)" in board.text
        assert region_shift(clean, board_image(board), INSIDE) > 40

        # Undo the frame-12 point, chosen through autocomplete.
        choices = await alice.autocomplete("kling undo", "point", "12")
        assert choices and all("12" in c["name"] for c in choices)
        await (await alice.slash("kling undo", point=choices[0]["value"])).response()
        board = await world.board(predicate=lambda m: "Marked frames (1/10)" in m.text)
        marked_line = next(line for line in board.text.splitlines() if "Marked frames" in line)
        assert "0 (1 pt)" in marked_line and "12 (" not in marked_line

        # Clear, then re-mark through the board's Add points modal (bob this time).
        await (await alice.slash("kling clear")).response()
        board = await world.board(predicate=lambda m: "No points yet" in m.text)
        opened = await bob.click(board, "Add points")
        assert opened.modal is not None
        await bob.submit_modal({"points": "E3 F4", "frame": "5"}, opened_by=opened)
        board = await world.board(predicate=lambda m: "#2 by" in m.text)
        assert frame_of(board) == 5 and f"<@{bob.id}>" in board.text
        assert region_shift(clean, board_image(board), INSIDE) > 40

        # Frame navigation buttons, each an in-place edit of the same message.
        for label, expected in (("▶ +1", 6), ("▶▶ +10", 16), ("◀ -1", 15), ("◀◀ -10", 5)):
            await alice.click(board, label)
            board = await world.board(predicate=lambda m, e=expected: frame_of(m) == e)
        assert len([m for m in world.channel.visible_messages() if is_board(m)]) == 1

        # Preview: the tracked-mask video and its cover, posted in the channel.
        await alice.click(board, "Preview")
        preview = await world.channel.wait_for_message(
            lambda m: any(f.filename.startswith("preview.") for f in m.files), timeout=30
        )
        assert any(f.filename.startswith("preview-cover") for f in preview.files)

        # Remove, with the confirmation card, then the edited video arrives in the channel.
        opened = await alice.click(board, "Remove")
        submitted = await alice.submit_modal({"prompt": "the green square"}, opened_by=opened)
        card = await submitted.response(timeout=15)
        assert card.ephemeral and "<<<video_1>>>" in card.text and "green square" in card.text
        assert "Marked frames" in card.text and "Mode:" in card.text
        started = time.perf_counter()
        done = await alice.click(card, "Submit")
        await world.twin.wait_until(
            lambda: "Submitted job" in (world.twin.find_message(card.id).text), 15
        )
        result = await world.channel.wait_for_message(result_message, timeout=60)
        world.timings["submit_to_delivered_s"] = time.perf_counter() - started
        assert f"<@{alice.id}>" in result.content
        edited = result.attachments[0]
        assert edited.duration_secs and edited.duration_secs > 2
        assert done.response_type is not None
    print("timings:", world.timings)


async def test_result_frames_lose_the_square(kling_world: KlingWorld) -> None:
    """The delivered removal really changes the video where the square was (decoded frames)."""
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        await (await world.alice.slash("kling mark", points="E3")).response()
        board = await world.board(predicate=lambda m: "#1 by" in m.text)
        await world.bot_settings(confirm_submits=False)
        reply = await (await world.alice.slash("kling remove", prompt="the square")).response(
            timeout=15
        )
        assert "Submitted job" in reply.content
        result = await world.channel.wait_for_message(result_message, timeout=60)
        path = result.attachments[0].save(world.tmp)
        from bot.media import extract_frame

        frame = np.asarray(extract_frame(path, 0).convert("RGB"), dtype=np.int16)
        assert np.abs(frame[INSIDE].mean(axis=(0, 1)) - SQUARE_COLOUR).max() > 60
        assert board is not None
