"""Every click on the bot's components is answered, also when nothing listens to it any more.

A click nobody answers shows "This interaction failed" in Discord; the stand-in turns it into
`InteractionFailedError` (and a 10062 violation), so each click below fails without an answer.
"""

from __future__ import annotations

import copy
import dataclasses

from tests.cogs.admin_harness import manager_role
from tests.cogs.harness import KlingWorld, kling_world
from tests.discord_twin import TwinMessage

__all__ = ["kling_world"]


def old_copy(message: TwinMessage) -> TwinMessage:
    """The message as a member's client still shows it (its buttons as they were now)."""
    return dataclasses.replace(message, components=copy.deepcopy(message.components))


async def confirmation_card(world: KlingWorld, prompt: str = "the square") -> TwinMessage:
    card = await (await world.alice.slash("kling remove", prompt=prompt)).response(timeout=20)
    assert "Submit" in card.button_labels, card.text
    return card


async def test_clicks_on_old_copies_of_a_submitted_or_cancelled_card_say_so(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    alice = world.alice
    world.freeze_cooldowns()
    async with world.bot():
        await world.open_board()
        await (await alice.slash("kling mark", points="E3")).response()

        card = await confirmation_card(world)
        before = old_copy(card)
        await alice.click(card, "Submit")
        submitted = await world.twin.wait_until(lambda: "Submitted job" in card.text and card, 20)
        assert "Submit" not in submitted.button_labels
        creates = world.emulator.faults.calls["multi-elements:create"]

        for label in ("Submit", "Cancel"):
            answer = await world.reply(await alice.click(before, label), clicked=before)
            assert answer.ephemeral and answer.visible_to == alice.id
            assert "already submitted as job" in answer.content, answer.content
        assert world.emulator.faults.calls["multi-elements:create"] == creates  # nothing resent

        world.pass_cooldowns()
        cancelled_card = await confirmation_card(world, "the other square")
        stale = old_copy(cancelled_card)
        await alice.click(cancelled_card, "Cancel")
        await world.twin.wait_until(lambda: "Cancelled" in cancelled_card.text, 10)
        answer = await world.reply(await alice.click(stale, "Submit"), clicked=stale)
        assert "was cancelled; nothing was sent to Kling" in answer.content, answer.content
    world.twin.assert_clean()


async def test_a_card_a_settings_panel_and_a_form_from_before_a_restart_are_answered(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    alice = world.alice
    admin = world.twin.member(world.guild, "ada", roles=[manager_role(world.twin, world.guild)])
    async with world.bot():
        board = await world.open_board()
        await (await alice.slash("kling mark", points="E3")).response()
        card = await confirmation_card(world)
        panel = await (await admin.slash("kling-admin settings")).response()
        form = await alice.click(board, "Remove")
        assert form.modal is not None

    async with world.bot():  # a restart: no view of the first process exists any more
        answer = await world.reply(await alice.click(card, "Submit"), clicked=card)
        assert "confirmation card has expired; nothing was sent" in answer.content
        answer = await world.reply(
            await admin.click(
                panel,
                "Ask to confirm" if "Ask to confirm" in panel.button_labels else "Stop asking",
            ),
            clicked=panel,
        )
        assert "settings panel has closed" in answer.content, answer.content
        sent = await alice.submit_modal({"prompt": "the square"}, opened_by=form)
        answer = await world.reply(sent)
        assert "This form has expired" in answer.content, answer.content
        assert answer.ephemeral
        # Nothing was sent to Kling and the board still works as before.
        assert world.emulator.faults.calls["multi-elements:create"] == 0
        await alice.click(board, "▶ +1")
        await world.board(predicate=lambda m: "Frame 1 /" in m.text)
    world.twin.assert_clean()


async def test_two_members_with_the_same_form_open_both_get_their_points_marked(
    kling_world: KlingWorld,
) -> None:
    """Each open form is its own: one member's submit does not close the other's."""
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        alice_form = await world.alice.click(board, "Add points")
        bob_form = await world.bob.click(board, "Add points")
        await world.alice.submit_modal({"points": "E3"}, opened_by=alice_form)
        await world.board(predicate=lambda m: "#1 by" in m.text)
        answer = await world.bob.submit_modal({"points": "F4"}, opened_by=bob_form)
        board = await world.board(predicate=lambda m: "#2 by" in m.text)
        assert f"<@{world.bob.id}>" in board.text
        assert answer.followups == [] or "expired" not in answer.followups[0].content
    world.twin.assert_clean()
