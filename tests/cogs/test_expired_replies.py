"""An answer that comes after the interaction's 15-minute token expired stays private: a DM to
the member, or (DMs refused) only the log; never a channel post with the member's mention.

Kling holds the mark (a stall) while the stand-in's clock moves 16 minutes on, then refuses it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import discord.utils
import pytest

from tests.cogs.harness import KlingWorld, kling_world
from tests.discord_twin import DiscordTwin

__all__ = ["kling_world"]

REFUSED = "could not use that selection"  # the answer to a mark Kling rejects


@pytest.fixture
def bot_sees_the_twin_clock(
    discord_twin: DiscordTwin, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """discord.py judges `Interaction.is_expired()` by its own clock: let it read the stand-in's,
    so a token the stand-in calls dead is dead for the bot too."""
    real = discord.utils.utcnow

    def twin_now() -> object:
        return real() + discord.utils.datetime.timedelta(
            seconds=discord_twin.clock.now() - real().timestamp()
        )

    monkeypatch.setattr(discord.utils, "utcnow", twin_now)
    yield


async def mark_that_kling_answers_too_late(world: KlingWorld, locale: str = "en-US") -> None:
    """Alice marks a point; Kling holds it past the token's 15 minutes, then rejects it."""
    await world.open_board()
    world.alice.member.locale = locale  # her Discord client's language from now on
    world.emulator.faults.stall("add-selection")
    world.emulator.faults.reject("add-selection")
    handle = await world.alice.slash("kling mark", points="C3")
    assert handle.response_type == 5  # deferred: the answer is a followup
    await world.emulator.faults.holding(1)
    world.twin.clock.advance(16 * 60)
    world.emulator.faults.release()


def posts_naming(world: KlingWorld, user_id: int) -> list[str]:
    """Channel messages everybody sees that mention the member."""
    return [
        m.content
        for m in world.channel.visible_messages()
        if not m.ephemeral and f"<@{user_id}>" in m.content
    ]


async def test_a_late_answer_refused_by_discord_goes_to_a_dm(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        await mark_that_kling_answers_too_late(world)
        dm = await world.twin.wait_until(
            lambda: next(iter(world.twin.dms.messages_to(world.alice.id)), None), timeout=30
        )
    assert dm.content.startswith(f"About your request in <#{world.channel.id}>: ")
    assert REFUSED in dm.content.lower() and "went wrong" not in dm.content
    assert posts_naming(world, world.alice.id) == []
    assert world.twin.take_violations(50027)  # the followup was tried first, and refused


async def test_an_answer_the_bot_knows_is_late_is_never_posted_in_the_channel(
    kling_world: KlingWorld,
    bot_sees_the_twin_clock: None,
) -> None:
    world = kling_world
    async with world.bot():
        await mark_that_kling_answers_too_late(world, "pt-BR")
        dm = await world.twin.wait_until(
            lambda: next(iter(world.twin.dms.messages_to(world.alice.id)), None), timeout=30
        )
    assert dm.content.startswith(f"Sobre o seu pedido em <#{world.channel.id}>: ")
    assert posts_naming(world, world.alice.id) == []
    assert world.twin.take_violations(50027) == []  # the dead token was not even tried


async def test_a_member_who_takes_no_dms_finds_the_answer_only_in_the_log(
    kling_world: KlingWorld,
    bot_sees_the_twin_clock: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cogs.core.replies")
    world = kling_world
    world.twin.dms.refuse_dms(world.alice.id)
    async with world.bot():
        await mark_that_kling_answers_too_late(world)
        await world.twin.wait_until(
            lambda: next((r for r in caplog.records if "takes no DMs" in r.getMessage()), None),
            timeout=30,
        )
    dm_channel = world.twin.dms.by_user[world.alice.id]
    refused = [
        r
        for r in world.twin.requests
        if r.method == "POST" and r.path == f"/channels/{dm_channel.id}/messages"
    ]
    assert [r.status for r in refused] == [403]  # the DM was tried once, and refused
    assert world.twin.dms.messages_to(world.alice.id) == []
    assert posts_naming(world, world.alice.id) == []
