"""A board changed by slash commands is edited without fetching its message again each time."""

from __future__ import annotations

from tests.cogs.harness import KlingWorld, kling_world

__all__ = ["kling_world"]


def _board_reads(world: KlingWorld, board_id: int) -> int:
    path = f"/channels/{world.channel.id}/messages/{board_id}"
    return sum(1 for r in world.twin.requests if r.method == "GET" and r.path.endswith(path))


async def test_frame_commands_edit_the_board_without_fetching_it_each_time(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        for frame in (10, 20, 30):
            reply = await (await world.alice.slash("kling frame", frame=frame)).response()
            assert f"The board shows frame {frame}" in reply.content
            await world.board(predicate=lambda m, f=frame: f"Frame {f} / 59" in m.text)
        # The first edit may read the message (to keep its video); later ones reuse what the
        # last edit returned.
        assert _board_reads(world, board.id) <= 1
        assert "Source video" in world.twin.find_message(board.id).text


async def test_a_deleted_board_does_not_break_the_next_command(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        reply = await (await world.alice.slash("kling frame", frame=5)).response()
        assert "The board shows frame 5" in reply.content
        await world.board(predicate=lambda m: "Frame 5 / 59" in m.text)  # edited, remembered
        world.twin.delete_message(world.twin.find_message(board.id))
        reads = _board_reads(world, board.id)
        handle = await world.bob.slash("kling frame", frame=6)
        reply = await handle.response()
        # The member still gets the board privately...
        assert "The board shows frame 6" in reply.content
        # ...and the failed edit of the remembered message makes the bot look the board up
        # (it is gone: nothing to edit) instead of failing the command: no error reply.
        await world.twin.wait_until(lambda: _board_reads(world, board.id) > reads)
        texts = [world.twin.find_message(i).text for i in handle.record.followup_ids]
        assert not any("went wrong" in t for t in texts), texts


async def test_a_later_command_does_not_edit_the_board_through_an_earlier_click(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        click = await world.alice.click(world.twin.find_message(board.id), "▶ +1")
        await world.twin.wait_until(lambda: bool(click.record.answered_at))
        answers = len(click.record.answered_at)
        for frame in (12, 24):
            reply = await (await world.bob.slash("kling frame", frame=frame)).response()
            assert f"The board shows frame {frame}" in reply.content
            await world.board(predicate=lambda m, f=frame: f"Frame {f} / 59" in m.text)
        # The click was answered once; the commands edited the board as the bot.
        assert len(click.record.answered_at) == answers
