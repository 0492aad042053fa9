"""Server settings change what happens in the editing flows (SPEC §8), through the Discord
stand-in and the Kling emulator; "nothing was sent to Kling" is counted at the emulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.policy import next_daily_reset
from tests.cogs.harness import KlingWorld, is_board, kling_world
from tests.discord_twin import TwinMessage

__all__ = ["kling_world"]

CREATE = "multi-elements:create"
DISABLED = "The bot is disabled in this channel"


def delivered(message: TwinMessage) -> bool:
    return "Edit this result" in message.button_labels


async def marked_board(world: KlingWorld, actor: object = None) -> TwinMessage:
    await world.open_board(actor)
    reply = await (await (actor or world.alice).slash("kling mark", points="E3")).response()
    assert "Marked frame 0" in reply.content
    return await world.board(predicate=lambda m: "#1 by" in m.text)


async def say(actor: object, command: str, **options: object) -> str:
    handle = await actor.slash(command, **options)  # type: ignore[attr-defined]
    return (await handle.response(timeout=20)).content


async def no_jobs_running(world: KlingWorld) -> None:
    assert world.current is not None
    async with asyncio.timeout(60):  # a deadline for a job that would never end
        while True:
            if not await world.current.store.count_active_jobs(world.guild.id):
                return
            await asyncio.sleep(0.05)


async def test_without_the_role_a_member_marks_and_previews_but_cannot_submit(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    editors = world.twin.add_role(world.guild, "Editors")
    others = world.twin.add_role(world.guild, "Others")
    eddie = world.twin.member(world.guild, "eddie", roles=[editors])
    bob, calls = world.bob, world.emulator.faults.calls
    async with world.bot():
        await world.bot_settings(submit_role_id=editors.id)
        board = await marked_board(world, bob)  # free steps stay open to everyone
        preview = await (await bob.slash("kling preview")).response(timeout=30)
        assert "preview is in the channel" in preview.content
        assert calls["preview-selection"] == 1

        refusal = f"Only members with the <@&{editors.id}> role can submit paid jobs"
        opened = await bob.click(board, "Remove")
        said = await (await bob.submit_modal({"prompt": "the square"}, opened_by=opened)).response(
            timeout=20
        )
        assert said.content.startswith(refusal), said.content
        assert (await say(bob, "kling remove", prompt="the square")).startswith(refusal)
        assert calls[CREATE] == 0

        # A card opened while allowed is checked again at the Submit click.
        card = await (await eddie.slash("kling remove", prompt="the square")).response(timeout=20)
        assert "Submit this remove job?" in card.text
        await world.bot_settings(submit_role_id=others.id)
        click = await eddie.click(card, "Submit")
        note = await world.reply(click, clicked=card)
        assert note.content.startswith(f"Only members with the <@&{others.id}> role"), note.content
        assert calls[CREATE] == 0 and "Submit" in world.twin.find_message(card.id).button_labels

        await world.bot_settings(submit_role_id=editors.id)
        await eddie.click(card, "Submit")
        await world.twin.wait_until(
            lambda: "Submitted job" in world.twin.find_message(card.id).text, 15
        )
        await world.channel.wait_for_message(delivered, timeout=60)
        assert calls[CREATE] == 1


async def test_daily_limit_refuses_says_when_it_resets_and_resets(
    kling_world: KlingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = kling_world
    alice, calls = world.alice, world.emulator.faults.calls
    async with world.bot():
        await world.bot_settings(daily_jobs_per_member=1, confirm_submits=False)
        board = await marked_board(world)
        first = await say(alice, "kling remove", prompt="the square")
        assert "Submitted job" in first  # no confirmation card: submitted at once
        await world.channel.wait_for_message(delivered, timeout=60)

        before = time.time()
        refused = await say(alice, "kling remove", prompt="the square")
        resets = {f"<t:{int(next_daily_reset(t))}:R> (00:00 UTC)" for t in (before, time.time())}
        assert refused.startswith("You have used your 1 job for today; the limit resets ")
        assert any(text in refused for text in resets), refused
        opened = await alice.click(board, "Remove")
        said = await (
            await alice.submit_modal({"prompt": "the square"}, opened_by=opened)
        ).response(timeout=20)
        assert said.content == refused
        assert calls[CREATE] == 1
        assert "Submitted job" in await say(world.bob, "kling remove", prompt="the square")

        # Past midnight UTC the member's count starts over.
        store = world.current.store  # type: ignore[union-attr]
        real = store._clock
        monkeypatch.setattr(store, "_clock", lambda: next_daily_reset(real()) + 60)
        world.pass_cooldowns()
        assert "Submitted job" in await say(alice, "kling remove", prompt="the square")
        results = await world.twin.wait_until(
            lambda: (
                len(
                    [
                        m
                        for m in world.channel.visible_messages()
                        if delivered(m) and f"<@{alice.id}>" in m.content
                    ]
                )
                == 2
                or None
            ),
            60,
        )
        assert results and calls[CREATE] == 3


async def test_concurrent_limit_pro_mode_and_default_mode(kling_world: KlingWorld) -> None:
    world = kling_world
    alice, calls = world.alice, world.emulator.faults.calls
    async with world.bot():
        await world.bot_settings(concurrent_jobs_per_guild=1, confirm_submits=False)
        board = await marked_board(world)
        world.emulator.runtime.config.seconds_per_stage = 1.0  # bob's job keeps running
        assert "Submitted job" in await say(world.bob, "kling remove", prompt="the square")
        refused = await say(alice, "kling remove", prompt="the square")
        assert refused == (
            "This server already has 1 job running (its limit is 1); try again when one finishes."
        )
        world.emulator.runtime.config.seconds_per_stage = 0.0
        await world.channel.wait_for_message(delivered, timeout=60)
        await no_jobs_running(world)

        await world.bot_settings(pro_allowed=False, confirm_submits=True)
        pro_off = "Pro mode is turned off on this server; submit with mode std."
        assert await say(alice, "kling remove", prompt="the square", mode="pro") == pro_off
        opened = await alice.click(board, "Remove")
        said = await (
            await alice.submit_modal({"prompt": "the square", "mode": ["pro"]}, opened_by=opened)
        ).response(timeout=20)
        assert said.content == pro_off
        assert calls[CREATE] == 1

        # The server's default mode is what a submit without a mode gets.
        await world.bot_settings(pro_allowed=True, default_mode="pro")
        card = await (await alice.slash("kling remove", prompt="the square")).response(timeout=20)
        assert "**Mode:** pro" in card.text
        await alice.click(card, "Submit")  # the running job finished: allowed again
        await world.twin.wait_until(
            lambda: "Submitted job" in world.twin.find_message(card.id).text, 15
        )
        await world.twin.wait_until(lambda: calls[CREATE] == 2, 15)


async def test_sessions_open_in_a_thread_when_the_server_says_so(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        await world.bot_settings(sessions_in_threads=True)
        assert "editing session is open" in await say(
            world.alice, "kling edit", video=world.video()
        )
        [thread] = world.channel.threads
        board = await world.board(channel=thread)
        assert "Frame 0 /" in board.text
        assert not any(is_board(m) for m in world.channel.visible_messages())
        # A member can still choose: thread=False keeps the session in the channel.
        assert "editing session is open" in await say(
            world.alice, "kling edit", video=world.video(), thread=False
        )
        await world.board()
        assert len(world.channel.threads) == 1


async def test_a_disabled_channel_refuses_even_free_steps(kling_world: KlingWorld) -> None:
    world = kling_world
    alice, bob, calls = world.alice, world.bob, world.emulator.faults.calls
    async with world.bot():
        board = await marked_board(world)
        await world.current.store.set_channel_disabled(  # type: ignore[union-attr]
            world.guild.id, world.channel.id, True
        )
        kling_calls, edits = sum(calls.values()), board.edit_count

        for actor, command, options in (
            (alice, "kling mark", {"points": "F4"}),
            (alice, "kling preview", {}),
            (alice, "kling frame", {"frame": 3}),
            (alice, "kling clear", {}),
            (alice, "kling remove", {"prompt": "the square"}),
            (alice, "kling status", {}),
            (alice, "kling edit", {"video": world.video()}),
        ):
            said = await say(actor, command, **options)
            assert said.startswith(DISABLED), (command, said)
        for label in ("▶ +1", "Undo", "Preview"):
            click = await bob.click(board, label)
            assert (await world.reply(click, clicked=board)).content.startswith(DISABLED), label
        opened = await bob.click(board, "Add points")
        submitted = await bob.submit_modal({"points": "F4"}, opened_by=opened)
        assert (await world.reply(submitted, clicked=board)).content.startswith(DISABLED)

        assert sum(calls.values()) == kling_calls  # nothing reached Kling
        assert world.twin.find_message(board.id).edit_count == edits
        assert len([m for m in world.channel.visible_messages() if is_board(m)]) == 1

        await world.current.store.set_channel_disabled(  # type: ignore[union-attr]
            world.guild.id, world.channel.id, False
        )
        assert "Marked frame 0" in await say(bob, "kling mark", points="F4")
