"""The submit cooldown only stops double clicks: a job Kling refused does not count, a cooldown
that applies is on the card when it is offered, and a card refused by it stays usable."""

from __future__ import annotations

import re

import pytest

from cogs.core.cooldowns import SUBMIT, Cooldowns
from tests.cogs.harness import KlingWorld, kling_world
from tests.discord_twin import TwinMessage

__all__ = ["kling_world"]

CREATE = "multi-elements:create"
SLOW_DOWN = re.compile(r"^Slow down: try again in (\d+) s\.$")
WAIT_LINE = re.compile(r"\*\*Submit\*\* works again <t:(\d+):R>")


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_wait_looks_without_using_and_refund_gives_back_one_call() -> None:
    clock = FakeClock()
    cooldowns = Cooldowns(clock=clock)
    assert cooldowns.wait(SUBMIT, 1, 10) is None
    cooldowns.refund(SUBMIT, 1, 10)  # nothing used: nothing to give back, no extra call
    assert cooldowns.take(SUBMIT, 1, 10) is None
    assert cooldowns.wait(SUBMIT, 1, 10) == pytest.approx(SUBMIT.every_s)
    assert cooldowns.wait(SUBMIT, 1, 10) == pytest.approx(SUBMIT.every_s)  # looking used nothing
    clock.now += 2.0
    assert cooldowns.wait(SUBMIT, 1, 10) == pytest.approx(SUBMIT.every_s - 2.0)
    cooldowns.refund(SUBMIT, 1, 10)
    assert cooldowns.wait(SUBMIT, 1, 10) is None
    cooldowns.refund(SUBMIT, 1, 10)  # never more than a full burst
    assert cooldowns.take(SUBMIT, 1, 10) is None
    assert cooldowns.take(SUBMIT, 1, 10) is not None
    assert cooldowns.wait(SUBMIT, 2, 10) is None  # another member is not held up


async def card(world: KlingWorld, prompt: str) -> TwinMessage:
    offered = await (await world.alice.slash("kling remove", prompt=prompt)).response(timeout=20)
    assert "Submit" in offered.button_labels, offered.text
    return offered


async def submitted(world: KlingWorld, offered: TwinMessage) -> TwinMessage:
    return await world.twin.wait_until(lambda: "Submitted job" in offered.text and offered, 20)


async def test_after_kling_refuses_a_job_the_member_can_submit_again_at_once(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    alice, calls = world.alice, world.emulator.faults.calls
    world.freeze_cooldowns()  # the cooldowns' time moves only when the test says so
    world.emulator.faults.fail(CREATE, 1301)
    async with world.bot():
        await world.open_board()
        await (await alice.slash("kling mark", points="E3")).response()
        first = await card(world, "the square")
        await alice.click(first, "Submit")
        await submitted(world, first)
        ping = await world.channel.wait_for_message(
            lambda m: "job failed" in m.content and f"<@{alice.id}>" in m.content, timeout=30
        )
        assert calls[CREATE] == 1, ping.content

        # Straight away (no cooldown time has passed): Kling never took that job.
        second = await card(world, "the square")
        assert not WAIT_LINE.search(second.text), second.text
        answer = await alice.click(second, "Submit")
        await submitted(world, second)
        assert answer.followups == [] or not SLOW_DOWN.match(answer.followups[0].content)
        await world.twin.wait_until(lambda: calls[CREATE] == 2, 20)
        result = await world.channel.wait_for_message(
            lambda m: "Edit this result" in m.button_labels, timeout=60
        )
        assert f"<@{alice.id}>" in result.content


async def test_a_cooldown_shows_on_the_card_and_the_card_submits_once_it_is_over(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    alice, calls = world.alice, world.emulator.faults.calls
    world.freeze_cooldowns()
    async with world.bot():
        await world.open_board()
        await (await alice.slash("kling mark", points="E3")).response()
        first = await card(world, "the square")
        assert not WAIT_LINE.search(first.text)
        await alice.click(first, "Submit")
        await submitted(world, first)
        await world.twin.wait_until(lambda: calls[CREATE] == 1, 20)

        second = await card(world, "the square again")
        when = WAIT_LINE.search(second.text)
        assert when, second.text  # said when the card is offered, not only after a click
        assert 0 < int(when[1]) - world.twin.clock.now() <= SUBMIT.every_s + 2

        refused = await world.reply(await alice.click(second, "Submit"), clicked=second)
        match = SLOW_DOWN.match(refused.content)
        assert match and int(match[1]) == SUBMIT.every_s, refused.content
        assert refused.ephemeral and refused.id != second.id
        assert "Submit" in second.button_labels and "Submitted job" not in second.text

        world.pass_cooldowns(SUBMIT.every_s)
        await alice.click(second, "Submit")  # the same card, once the wait is over
        await submitted(world, second)
        await world.twin.wait_until(lambda: calls[CREATE] == 2, 20)
    world.twin.assert_clean()


async def test_a_submit_refused_before_any_job_was_made_does_not_count(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    alice, calls = world.alice, world.emulator.faults.calls
    world.freeze_cooldowns()
    async with world.bot():
        await world.open_board()
        await (await alice.slash("kling mark", points="E3")).response()
        stale = await card(world, "the square")
        await (await alice.slash("kling clear")).response()
        refused = await world.reply(await alice.click(stale, "Submit"), clicked=stale)
        assert "marks were cleared" in refused.content, refused.content
        await (await alice.slash("kling mark", points="E3")).response()

        fresh = await card(world, "the square")
        assert not WAIT_LINE.search(fresh.text), fresh.text
        await alice.click(fresh, "Submit")
        await submitted(world, fresh)
        await world.twin.wait_until(lambda: calls[CREATE] == 1, 20)
