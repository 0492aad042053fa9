"""Per-member cooldowns on the calls that reach Kling (preview, mark/undo/clear, submit)."""

from __future__ import annotations

import re

import pytest

from cogs.core.cooldowns import PREVIEW, SELECTION, SUBMIT, CooldownError, Cooldowns
from tests.cogs.harness import KlingWorld, kling_world

__all__ = ["kling_world"]

SLOW_DOWN = re.compile(r"^Slow down: try again in (\d+) s\.$")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_call_per_interval_per_member_and_channel() -> None:
    clock = FakeClock()
    cooldowns = Cooldowns(clock=clock)
    for _ in range(SELECTION.burst):
        assert cooldowns.take(SELECTION, 1, 10) is None
    assert cooldowns.take(SELECTION, 1, 10) == pytest.approx(SELECTION.every_s)
    assert cooldowns.take(SELECTION, 2, 10) is None  # another member
    assert cooldowns.take(SELECTION, 1, 11) is None  # another channel (session)
    assert cooldowns.take(PREVIEW, 1, 10) is None  # another kind of call
    clock.now += SELECTION.every_s / 2
    assert cooldowns.take(SELECTION, 1, 10) == pytest.approx(SELECTION.every_s / 2)
    clock.now += SELECTION.every_s / 2
    assert cooldowns.take(SELECTION, 1, 10) is None  # refused calls used nothing up
    assert cooldowns.take(SELECTION, 1, 10) is not None

    assert cooldowns.take(SUBMIT, 1, 10) is None
    assert cooldowns.take(SUBMIT, 1, 10) == pytest.approx(SUBMIT.every_s)
    assert str(CooldownError(0.2)) == "Slow down: try again in 1 s."
    assert str(CooldownError(9.01)) == "Slow down: try again in 10 s."


async def test_a_rapid_second_preview_and_a_fifth_mark_are_refused(kling_world: KlingWorld) -> None:
    world = kling_world
    alice, calls = world.alice, world.emulator.faults.calls
    world.freeze_cooldowns()  # waits below are exact, however slow the machine
    async with world.bot():
        await world.open_board()
        await (await alice.slash("kling mark", points="E3")).response()
        board = await world.board(predicate=lambda m: "#1 by" in m.text)

        first = await world.reply(await alice.click(board, "Preview"), clicked=board, timeout=30)
        assert "preview is in the channel" in first.content
        second = await world.reply(await alice.click(board, "Preview"), clicked=board)
        match = SLOW_DOWN.match(second.content)
        assert match and int(match[1]) == PREVIEW.every_s == 10, second.content
        assert second.ephemeral
        assert calls["preview-selection"] == 1

        # Marking: a burst of four, then one every two seconds.
        for point in ("F4", "0.1,0.1", "0.9,0.9"):
            reply = await (await alice.slash("kling mark", points=point)).response()
            assert "Marked frame 0" in reply.content, reply.content
        selections = calls["add-selection"]
        refused = await (await alice.slash("kling mark", points="0.2,0.2")).response()
        match = SLOW_DOWN.match(refused.content)
        assert match and int(match[1]) == SELECTION.every_s == 2, refused.content
        assert calls["add-selection"] == selections
        # Frame buttons do not call Kling and have no cooldown.
        await alice.click(board, "▶ +1")
        await world.board(predicate=lambda m: "Frame 1 /" in m.text)

        world.pass_cooldowns(2.0)
        assert (
            "Marked frame 0"
            in (
                await (await alice.slash("kling mark", points="0.2,0.2", frame=0)).response()
            ).content
        )
