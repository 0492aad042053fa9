"""Settings change behaviour: the policy fed with a real member's roles, channel and thread."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.storage import JobState
from tests.cogs.admin_harness import (
    NOW,
    BotFactory,
    Clock,
    clock,
    manager_role,
    run_bot,
    seed_job,
)
from tests.discord_twin import DiscordTwin
from tests.discord_twin.model import TwinGuild

__all__ = ["clock", "run_bot"]

MIDNIGHT = int(datetime(2026, 3, 15, tzinfo=UTC).timestamp())


async def answer(actor: object, command: str, **options: object) -> str:
    handle = await actor.slash(command, **options)  # type: ignore[attr-defined]
    return (await handle.response()).content


async def test_each_setting_changes_who_may_submit_and_where(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild, clock: Clock
) -> None:
    editors = discord_twin.add_role(twin_guild, "Editors")
    admin = discord_twin.member(twin_guild, "ada", roles=[manager_role(discord_twin, twin_guild)])
    editor = discord_twin.member(twin_guild, "eddie", roles=[editors])
    member = discord_twin.member(twin_guild, "bob")
    general = twin_guild.channel("general")
    guild = twin_guild.id

    async with run_bot() as bot:
        store = bot.store
        assert await answer(member, "probe-submit") == "allowed"

        await store.update_settings(guild, submit_role_id=editors.id)
        refusal = await answer(member, "probe-submit")
        assert refusal.startswith(f"Only members with the <@&{editors.id}> role can submit")
        assert await answer(member, "probe-free") == "allowed"  # marking stays open
        assert await answer(editor, "probe-submit") == "allowed"
        assert await answer(admin, "probe-submit") == "allowed"

        await store.update_settings(guild, pro_allowed=False)
        assert await answer(editor, "probe-submit", mode="pro") == (
            "Pro mode is turned off on this server; submit with mode std."
        )

        await store.update_settings(guild, daily_jobs_per_member=1)
        await seed_job(
            store,
            clock,
            user=editor.id,
            guild=guild,
            channel=general.id,
            at=NOW - 300,
            outcome=JobState.PROCESSING,
        )
        assert await answer(editor, "probe-submit") == (
            f"You have used your 1 job for today; the limit resets <t:{MIDNIGHT}:R> (00:00 UTC)."
        )

        await store.update_settings(guild, daily_jobs_per_member=None, concurrent_jobs_per_guild=1)
        assert await answer(editor, "probe-submit") == (
            "This server already has 1 job running (its limit is 1); try again when one finishes."
        )
        await store.update_settings(guild, concurrent_jobs_per_guild=None)
        assert await answer(editor, "probe-submit") == "allowed"

        await store.set_channel_disabled(guild, general.id, True)
        for actor, command in (
            (editor, "probe-submit"),
            (member, "probe-free"),
            (admin, "probe-submit"),
        ):
            assert (await answer(actor, command)).startswith("The bot is disabled in this channel")
        # A thread of a disabled channel is disabled with it.
        thread = discord_twin.create_thread(general, "session")
        assert (await answer(member, "probe-free", channel=thread)).startswith(
            "The bot is disabled in this channel"
        )
        other = discord_twin.add_channel(twin_guild, "other")
        assert await answer(editor, "probe-submit", channel=other) == "allowed"
