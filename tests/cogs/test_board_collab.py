"""The board shared by a channel: members at once, other channels, restarts, ended sessions,
and swap/add with reference images uploaded through the board's modal."""

from __future__ import annotations

import asyncio

from tests.cogs.harness import (
    KlingWorld,
    is_board,
    kling_world,
    make_reference_image,
)
from tests.discord_twin import TwinMessage

__all__ = ["kling_world"]


def delivered(message: TwinMessage) -> bool:
    return "Edit this result" in message.button_labels


async def test_two_members_mark_at_the_same_moment(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        await world.open_board()
        alice, bob = world.alice, world.bob
        first, second = await asyncio.gather(
            alice.slash("kling mark", points="E3"), bob.slash("kling mark", points="0.3,0.8")
        )
        await asyncio.gather(first.response(), second.response())
        board = await world.board(predicate=lambda m: "#2 by" in m.text)
        assert f"<@{alice.id}> (1)" in board.text and f"<@{bob.id}> (1)" in board.text
        points = await world.current.store.list_points(
            (await world.current.editing.active_session(world.guild.id, world.channel.id)).id
        )
        assert sorted((round(p.x, 2), round(p.y, 2)) for p in points)[0] == (0.3, 0.8)
        assert len(points) == 2
        # Both clicking buttons at once: each edit shows the state after its own change.
        await asyncio.gather(alice.click(board, "▶ +1"), bob.click(board, "▶ +1"))
        await world.board(predicate=lambda m: "Frame 2 / 59" in m.text)


async def test_another_channel_cannot_touch_the_session(kling_world: KlingWorld) -> None:
    world = kling_world
    other = world.twin.add_channel(world.guild, "random")
    async with world.bot():
        board = await world.open_board()
        edits = board.edit_count
        reply = await (await world.bob.slash("kling mark", points="E3", channel=other)).response()
        assert "no editing session in this channel" in reply.content
        reply = await (await world.bob.slash("kling remove", prompt="x", channel=other)).response()
        assert "no editing session in this channel" in reply.content
        status = await (await world.bob.slash("kling status", channel=other)).response()
        assert "no editing session" in status.content
        assert world.twin.find_message(board.id).edit_count == edits
        assert "No points yet" in world.twin.find_message(board.id).text


async def test_old_board_buttons_work_after_a_restart(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        await (await world.alice.slash("kling mark", points="E3")).response()
        board = await world.board(predicate=lambda m: "#1 by" in m.text)
    async with world.bot():  # a new process on the same database
        await world.bob.click(board, "▶ +1")
        board = await world.board(predicate=lambda m: "Frame 1 / 59" in m.text)
        await world.bob.click(board, "◀ -1")
        board = await world.board(predicate=lambda m: "Frame 0 / 59" in m.text)
        await world.bob.click(board, "Undo")
        board = await world.board(predicate=lambda m: "No points yet" in m.text)
        status = await (await world.alice.slash("kling status")).response()
        assert "No points marked yet" in status.content

        # A board whose session ended behind its back says so when clicked, and retires.
        session = await world.current.editing.active_session(world.guild.id, world.channel.id)
        await world.current.store.end_session(session.id)
        click = await world.alice.click(board, "▶ +1")
        note = await world.twin.wait_until(
            lambda: next((m for m in click.followups if "has ended" in m.content), None)
        )
        assert note.ephemeral
        await world.twin.wait_until(lambda: not world.twin.find_message(board.id).buttons)


async def test_end_retires_the_board(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        reply = await (await world.alice.slash("kling end")).response()
        assert "has ended" in reply.content
        old = world.twin.find_message(board.id)
        await world.twin.wait_until(lambda: not old.buttons)
        assert any(f.filename.endswith(".mp4") for f in old.files)  # the video stays
        again = await (await world.alice.slash("kling clear")).response()
        assert "no editing session" in again.content


async def test_swap_and_add_with_images_uploaded_in_the_modal(kling_world: KlingWorld) -> None:
    world = kling_world
    blue = make_reference_image(world.tmp / "blue.png", (30, 60, 230))
    yellow = make_reference_image(world.tmp / "yellow.jpg", (240, 220, 30), size=500)
    async with world.bot():
        await world.open_board()
        await (await world.alice.slash("kling mark", points="E3")).response()
        board = await world.board(predicate=lambda m: "#1 by" in m.text)

        opened = await world.alice.click(board, "Swap")
        kinds = [
            c.get("type") for c in world.twin.interactions[opened.record.id].modal["components"]
        ]
        assert 18 in kinds  # labels, one of them wrapping the file upload
        card = await (
            await world.alice.submit_modal(
                {"prompt": "the blue ball", "images": [blue], "mode": ["pro"]}, opened_by=opened
            )
        ).response(timeout=20)
        assert "<<<image_1>>>" in card.text and "pro" in card.text
        assert len(card.files) == 1 and card.files[0].filename.startswith("reference1")
        assert card.visible_to == world.alice.id  # only the submitter sees the card
        await world.alice.click(card, "Submit")
        swap_result = await world.channel.wait_for_message(delivered, timeout=60)

        opened = await world.bob.click(board, "Add")
        card = await (
            await world.bob.submit_modal(
                {"prompt": "a yellow box on the left", "images": [blue, yellow]}, opened_by=opened
            )
        ).response(timeout=20)
        assert "<<<image_2>>>" in card.text and len(card.files) == 2
        await world.bob.click(card, "Cancel")
        await world.twin.wait_until(lambda: "Cancelled" in world.twin.find_message(card.id).text)
        opened = await world.bob.click(board, "Add")
        card = await (
            await world.bob.submit_modal(
                {"prompt": "a yellow box on the left", "images": [yellow]}, opened_by=opened
            )
        ).response(timeout=20)
        await world.bob.click(card, "Submit")
        add_result = await world.channel.wait_for_message(
            lambda m: delivered(m) and m.id != swap_result.id, timeout=60
        )
        assert f"<@{world.bob.id}>" in add_result.content
        assert f"<@{world.alice.id}>" in swap_result.content
        assert len([m for m in world.channel.visible_messages() if is_board(m)]) == 1
