"""State belongs to the running bot, not to modules: locks and cooldowns of one bot are not
another's, and reloading a feature's extension keeps its commands, buttons and buckets."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Config, KlingConfig, StorageConfig
from bot.i18n import Msg
from cogs.core.app import KlingBot, use_api_base
from cogs.core.cooldowns import SELECTION, cooldowns_of
from cogs.core.stale_clicks import card_finished, finished_cards
from cogs.editing.board import board_lock
from tests.cogs.harness import KlingWorld, kling_world

__all__ = ["kling_world"]

SLOW_DOWN = re.compile(r"^Slow down: try again in (\d+) s\.$")


def offline_config(folder: Path) -> Config:
    return Config(
        kling=KlingConfig(provider="emulator"),
        storage=StorageConfig(path=folder / "bot.sqlite3", media_dir=folder / "media"),
    )


async def test_two_bots_in_one_process_share_no_lock_and_no_cooldown(tmp_path: Path) -> None:
    one = KlingBot(offline_config(tmp_path / "one"))
    two = KlingBot(offline_config(tmp_path / "two"))
    try:
        await one.open_services()
        await two.open_services()
        # Session 7 of one bot's database is not session 7 of the other's.
        board_one, board_two = board_lock(one, 7), board_lock(two, 7)
        assert board_one is board_lock(one, 7)
        async with board_one:
            assert not board_two.locked()
        kling_one = one.editing.locks.for_session(7)
        async with kling_one:
            assert not two.editing.locks.for_session(7).locked()
        # A member who used up their burst on one bot is not slowed down on the other.
        for _ in range(SELECTION.burst):
            assert cooldowns_of(one).take(SELECTION, 42, 10) is None
        assert cooldowns_of(one).take(SELECTION, 42, 10) is not None
        assert cooldowns_of(two).take(SELECTION, 42, 10) is None
        # What became of a confirmation card is the business of the bot that showed it.
        card_finished(one, "c0ffee", Msg("Submitted."))
        assert finished_cards(one).get("c0ffee") == Msg("Submitted.")
        assert finished_cards(two).get("c0ffee") is None
    finally:
        await one.close()
        await two.close()
        use_api_base(None)


async def test_reloading_the_editing_extension_keeps_buttons_and_cooldowns(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    alice = world.alice
    world.freeze_cooldowns()
    async with world.bot() as bot:
        await world.open_board()
        for point in ("E3", "F4", "0.1,0.1", "0.9,0.9"):
            reply = await (await alice.slash("kling mark", points=point)).response()
            assert "Marked frame 0" in reply.content, reply.content
        board = await world.board(predicate=lambda m: "#4 by" in m.text)

        await bot.reload_extension("cogs.editing.cog")

        # The member's bucket is the bot's: the reload did not hand out a fresh burst.
        refused = await (await alice.slash("kling mark", points="0.2,0.2")).response()
        assert SLOW_DOWN.match(refused.content), refused.content
        # The board's restart-proof buttons answer through the reloaded cog.
        await alice.click(board, "▶ +1")
        await world.board(predicate=lambda m: "Frame 1 /" in m.text)
        world.pass_cooldowns(SELECTION.every_s)
        reply = await (await alice.slash("kling mark", points="0.2,0.2", frame=0)).response()
        assert "Marked frame 0" in reply.content, reply.content
