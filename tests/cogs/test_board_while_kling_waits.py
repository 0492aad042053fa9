"""Moving the board never waits for Kling; a session's Kling calls still go one at a time.

Kling is held by the emulator's stall fault (no sleeps): while a mark waits for Kling, `/kling
frame` and the board's ▶ +1 are answered, a second mark on the same session queues without
reaching Kling, and once Kling answers the board shows both marks on the frame members moved to.
"""

from __future__ import annotations

from tests.cogs.harness import KlingWorld, kling_world

__all__ = ["kling_world"]


async def test_frame_moves_are_answered_while_marks_wait_for_kling(kling_world: KlingWorld) -> None:
    world = kling_world
    faults = world.emulator.faults
    carol = world.twin.member(world.guild, "carol")
    async with world.bot() as bot:
        board = await world.open_board()
        faults.stall("add-selection", times=None)  # every mark is held until released
        first = await world.alice.slash("kling mark", points="E3", frame=0)
        await faults.holding(1)
        session = await bot.editing.active_session(world.guild.id, world.channel.id)
        assert session is not None
        gate = bot.editing.locks.for_session(session.id)
        second = await world.bob.slash("kling mark", points="0.3,0.8", frame=0)
        await world.twin.wait_until(lambda: gate.waiting == 1)  # queued behind the first

        moved = await (await carol.slash("kling frame", frame=30)).response()
        assert "The board shows frame 30" in moved.content
        assert faults.held == 1
        await world.board(predicate=lambda m: "Frame 30 / 59" in m.text)
        click = await carol.click(world.twin.find_message(board.id), "▶ +1")
        # The click's answer is its edit of the board, through the click's own interaction.
        await world.twin.wait_until(lambda: bool(click.record.answered_at))
        assert "Frame 31 / 59" in world.twin.find_message(board.id).text
        # Both moves were answered while the first mark was still in Kling's hands, and the
        # second mark has not reached Kling: one call at a time.
        assert faults.held == 1 and faults.calls["add-selection"] == 1
        assert gate.waiting == 1
        assert first.record.answered_at == [] and second.record.answered_at == []

        faults.release()
        first_reply = await first.response()
        assert "Marked frame 0: 1 point(s)" in first_reply.content
        await faults.holding(1)  # now the second mark is in Kling, alone
        assert faults.calls["add-selection"] == 2 and gate.waiting == 0
        faults.clear()
        second_reply = await second.response()
        assert "Marked frame 0: 2 point(s)" in second_reply.content

        # The marks did not take the board back to frame 0: it stays where Carol moved it,
        # and shows both marks (edited while the second member is answered).
        await world.board(predicate=lambda m: "Frame 31 / 59" in m.text and "0 (2 pt)" in m.text)
        stored = await bot.editing.active_session(world.guild.id, world.channel.id)
        assert stored is not None and stored.current_frame == 31
        calls = [r for r in faults.records if r.endpoint == "add-selection"]
        assert calls[0].ended <= calls[1].started  # never overlapping
        world.twin.assert_clean()


async def test_two_quick_next_clicks_move_the_board_two_frames(kling_world: KlingWorld) -> None:
    """With no lock, each ▶ +1 adds to the stored frame in one write: none is lost."""
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        first = await world.alice.click(board, "▶ +1", wait=False)
        second = await world.bob.click(board, "▶ +1", wait=False)
        await world.twin.wait_until(
            lambda: bool(first.record.answered_at and second.record.answered_at)
        )
        assert "Frame 2 / 59" in world.twin.find_message(board.id).text
