"""Input at Discord's extremes gets one clear answer: over-long options, prompt tokens that name
no input, and numbers no row can have (options and raw custom ids)."""

from __future__ import annotations

from bot.fit import CONTENT
from tests.cogs.harness import KlingWorld, kling_world
from tests.discord_twin import TwinMessage
from tests.discord_twin.model import walk_components

__all__ = ["kling_world"]

DISCORD_MAX_OPTION = 6000  # the longest string option Discord lets a member send


async def session_points(world: KlingWorld) -> list[tuple[float, float]]:
    assert world.current is not None
    session = await world.current.editing.active_session(world.guild.id, world.channel.id)
    assert session is not None
    return [(p.x, p.y) for p in await world.current.store.list_points(session.id)]


async def test_a_6000_character_bad_points_option_gets_a_short_clear_answer(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    async with world.bot():
        await world.open_board()
        for bad in (
            "x" * DISCORD_MAX_OPTION,
            "C4 " + "9" * (DISCORD_MAX_OPTION - 3),
            "`" * DISCORD_MAX_OPTION,
        ):
            reply = await (await world.alice.slash("kling mark", points=bad)).response()
            assert reply.ephemeral and len(reply.content) <= CONTENT
            assert "went wrong" not in reply.content
            assert "is not a point" in reply.content or "is outside" in reply.content, reply.content
            assert len(reply.content) < 300  # an excerpt of the token, not the whole of it
        assert (
            "`xxxxxxxx"
            in (
                await (
                    await world.alice.slash("kling mark", points="x" * DISCORD_MAX_OPTION)
                ).response()
            ).content
        )
        assert await session_points(world) == []  # nothing marked


async def test_prompt_tokens_that_name_no_input_are_refused_before_the_card(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    async with world.bot():
        await world.open_board()
        await (await world.alice.slash("kling mark", points="E3")).response()
        for prompt, named in (
            ("the car <<<image_9>>>", "<<<image_9>>>"),
            ("Delete the car from <<<video_1>>> and <<<video_2>>>", "<<<video_2>>>"),
        ):
            reply = await (await world.alice.slash("kling remove", prompt=prompt)).response(
                timeout=20
            )
            assert named in reply.text, reply.text
            assert "Submit" not in reply.button_labels  # no confirmation card
        assert world.emulator.faults.calls["multi-elements:create"] == 0


async def test_an_undo_point_no_row_can_have_is_answered_clearly(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        await world.open_board()
        await (await world.alice.slash("kling mark", points="E3")).response()
        for point in (2**70, 2**63, 0, -5):
            reply = await (await world.alice.slash("kling undo", point=point)).response()
            assert reply.ephemeral and "That point does not exist" in reply.content, (
                point,
                reply.content,
            )
        assert len(await session_points(world)) == 1  # nothing undone


async def click_forged(world: KlingWorld, board: TwinMessage, custom_id: str) -> TwinMessage:
    """Click the board's "▶ +1" after giving it `custom_id`, as a crafted message could.

    (discord.py drops a click whose custom id is not on the clicked message, so the id must be
    on a button of the message to reach the bot at all.)"""
    stored = world.twin.find_message(board.id)
    button = next(
        c
        for c in walk_components(stored.components)
        if c.get("type") == 2 and c.get("label") == "▶ +1"
    )
    button["custom_id"] = custom_id
    handle = await world.alice.click(stored, custom_id)
    return await world.reply(handle, clicked=stored)


async def test_a_button_id_with_a_40_digit_session_is_no_longer_valid(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    async with world.bot():
        board = await world.open_board()
        for session in ("9" * 40, str(2**63), "0"):
            reply = await click_forged(world, board, f"kling:b:{session}:f+1")
            assert reply.ephemeral and "no longer valid" in reply.content, reply.content
        # A session number that fits but names no session is "ended", as before.
        reply = await click_forged(world, board, "kling:b:424242:f+1")
        assert "has ended" in reply.content
        assert "Frame 0 /" in world.twin.find_message(board.id).text  # the board did not move


async def test_a_card_with_the_longest_prompts_still_arrives(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        await world.open_board()
        await (await world.alice.slash("kling mark", points="E3")).response()
        prompt = "the car " + "very " * 480  # 2,408 characters: Kling's prompt stays <= 2,500
        negative = "blurry " * 357  # 2,499 characters
        card = await (
            await world.alice.slash("kling remove", prompt=prompt, negative_prompt=negative)
        ).response(timeout=20)
        assert "Submit" in card.button_labels
        assert "Submit this remove job?" in card.text and len(card.text) <= 4000
        assert "Delete the car very very" in card.text  # the start of what Kling will get
