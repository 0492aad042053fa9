"""On the emulator the board, the confirmation card, the job card and the result each say that the
edit is not Kling's; with the real provider none of them does."""

from __future__ import annotations

import dataclasses

from bot.config import KlingConfig, Secret
from tests.cogs.harness import KlingWorld, kling_world
from tests.discord_twin import TwinMessage

__all__ = ["kling_world"]

NOTE = "Emulator: not a real Kling edit"


def is_result(message: TwinMessage) -> bool:
    return "Edit this result" in message.button_labels and any(
        f.filename.endswith(".mp4") for f in message.files
    )


def is_job_card(message: TwinMessage) -> bool:
    return message.content.startswith("**Kling job**")


async def four_surfaces(world: KlingWorld) -> dict[str, str]:
    """Open a board, mark, ask for a removal and submit it: the text of each thing members see."""
    alice = world.alice
    texts: dict[str, str] = {}
    async with world.bot():
        board = await world.open_board()
        await (await alice.slash("kling mark", points="E3")).response()
        board = await world.board(predicate=lambda m: "#1 by" in m.text)
        texts["board"] = board.text
        opened = await alice.click(board, "Remove")
        submitted = await alice.submit_modal({"prompt": "the green square"}, opened_by=opened)
        card = await submitted.response(timeout=15)
        texts["confirmation card"] = card.text
        await alice.click(card, "Submit")
        result = await world.channel.wait_for_message(is_result, timeout=60)
        texts["result"] = result.text
        # The card is edited at most every 10 s: whatever version it shows says the same.
        [job_card] = [m for m in world.channel.visible_messages() if is_job_card(m)]
        texts["job card"] = job_card.text
    return texts


async def test_every_surface_says_when_the_edit_comes_from_the_emulator(
    kling_world: KlingWorld,
) -> None:
    texts = await four_surfaces(kling_world)
    for surface, text in texts.items():
        lines = text.splitlines()
        assert f"-# 🧪 {NOTE}" in lines, f"the {surface} does not say it:\n{text}"
    # Just under the title, where it is read first.
    assert texts["board"].splitlines()[1] == f"-# 🧪 {NOTE}"
    assert texts["job card"].splitlines()[1] == f"-# 🧪 {NOTE}"


async def test_the_real_provider_shows_no_emulator_line(kling_world: KlingWorld) -> None:
    world = kling_world
    # Kling's protocol, spoken by the emulator (it takes any bearer when it has no key).
    world.config = dataclasses.replace(
        world.config,
        kling=KlingConfig(
            provider="kling", api_key=Secret("k-3f7a9c21"), base_url=world.emulator.base_url
        ),
    )
    texts = await four_surfaces(world)
    assert set(texts) == {"board", "confirmation card", "result", "job card"}
    for surface, text in texts.items():
        assert "Emulator" not in text, f"the {surface} claims the emulator:\n{text}"
