"""A minimal bot with the admin and jobs extensions, run against the Discord stand-in.

No Kling, no job runner: only the store (SQLite on tmp_path, with a clock the test moves) and the
command tree, which is what these commands use. Holds no tests itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.policy import PolicyError
from bot.storage import Job, JobKind, JobState, NewJob, Store
from cogs.core.access import ensure_channel_enabled, ensure_member_can_submit
from cogs.core.kling_group import KlingSubcommands
from cogs.core.tree import KlingTree
from tests.discord_twin import DiscordTwin, TwinChannel, TwinMessage, TwinRole, bot_running
from tests.discord_twin.actors import MESSAGE_COMPONENT, InteractionHandle, TwinActor
from tests.discord_twin.connect import use_gateway_from_rest
from tests.discord_twin.model import walk_components
from tests.discord_twin.payloads import channel_json

ROLE_SELECT, CHANNEL_SELECT = 6, 8
# 2026-03-14 15:30:00 UTC
NOW = 1_773_502_200.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class StandInKlingCog(KlingSubcommands):
    """A `/kling` subcommand the way the feature cogs declare theirs."""

    @app_commands.command(name="status", description="Show this channel's editing session")
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("no session", ephemeral=True)


class SubmitProbeCog(commands.Cog):
    """Stands in for a paid submit and a free step, to test the policy with real interactions."""

    @app_commands.command(name="probe-submit", description="Would a paid submit be allowed?")
    async def probe_submit(self, interaction: discord.Interaction, mode: str = "std") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await ensure_member_can_submit(interaction, interaction.client.store, mode=mode)
        except PolicyError as refusal:
            await interaction.edit_original_response(content=refusal.user_message)
        else:
            await interaction.edit_original_response(content="allowed")

    @app_commands.command(name="probe-free", description="Would a free step be allowed?")
    async def probe_free(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await ensure_channel_enabled(interaction, interaction.client.store)
        except PolicyError as refusal:
            await interaction.edit_original_response(content=refusal.user_message)
        else:
            await interaction.edit_original_response(content="allowed")


class AdminTestBot(commands.Bot):
    store: Store

    def __init__(self, db_path: Path, clock: Clock, extensions: Sequence[str]) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            tree_cls=KlingTree,
            help_command=None,
            guild_ready_timeout=0.05,
        )
        self.db_path = db_path
        self.clock = clock
        self.extension_names = tuple(extensions)

    async def setup_hook(self) -> None:
        await use_gateway_from_rest(self)
        self.store = await Store.open(self.db_path, clock=self.clock)
        await self.add_cog(StandInKlingCog(self))
        await self.add_cog(SubmitProbeCog())
        for name in self.extension_names:
            await self.load_extension(name)
        await self.tree.sync()

    async def close(self) -> None:
        await super().close()
        if getattr(self, "store", None) is not None:
            await self.store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


BotFactory = Callable[..., Any]


@pytest.fixture
async def run_bot(
    tmp_path: Path, clock: Clock, discord_twin: DiscordTwin
) -> AsyncIterator[BotFactory]:
    """`async with run_bot() as bot:` starts the test bot on the twin with our extensions."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def start(
        extensions: Sequence[str] = ("cogs.admin.cog", "cogs.jobs.cog"),
    ) -> AsyncIterator[AdminTestBot]:
        bot = AdminTestBot(tmp_path / "bot.sqlite3", clock, extensions)
        async with bot_running(bot, discord_twin):
            yield bot

    yield start


def manager_role(twin: DiscordTwin, guild: Any) -> TwinRole:
    return twin.add_role(guild, "Moderators", discord.Permissions(manage_guild=True).value)


def components_of(message: TwinMessage, ctype: int) -> list[dict[str, Any]]:
    return [c for c in walk_components(message.components) if c.get("type") == ctype]


def text_of(message: TwinMessage) -> str:
    """Every text display of a components-v2 message, joined."""
    return "\n".join(c["content"] for c in components_of(message, 10))


async def pick(
    actor: TwinActor, message: TwinMessage, custom_id: str, chosen: Sequence[TwinRole | TwinChannel]
) -> InteractionHandle:
    """Pick roles or channels in a role/channel select (the twin only clicks string selects)."""
    twin = actor.twin
    comp = next(
        (c for c in walk_components(message.components) if c.get("custom_id") == custom_id), None
    )
    assert comp is not None, f"no select {custom_id} on the message"
    resolved: dict[str, dict[str, Any]] = {}
    for item in chosen:
        if isinstance(item, TwinRole):
            resolved.setdefault("roles", {})[str(item.id)] = item.to_json()
        else:
            resolved.setdefault("channels", {})[str(item.id)] = {
                **channel_json(item, twin),
                "permissions": str(discord.Permissions.all().value),
            }
    data: dict[str, Any] = {
        "custom_id": custom_id,
        "component_type": comp["type"],
        "values": [str(i.id) for i in chosen],
        "id": comp.get("id"),
    }
    if resolved:
        data["resolved"] = resolved
    return await actor._interact(
        MESSAGE_COMPONENT, data, twin.channels[message.channel_id], message=message, wait=True
    )


async def seed_job(
    store: Store,
    clock: Clock,
    *,
    user: int,
    guild: int,
    channel: int,
    at: float,
    kind: JobKind = JobKind.EDIT_REMOVAL,
    outcome: JobState = JobState.DELIVERED,
    units: float | None = None,
    result_message_id: int = 0,
    reason: str | None = None,
) -> Job:
    """A job created at `at` and driven through the store to `outcome` as the runner would."""
    saved = clock.now
    clock.now = at
    try:
        job = await store.create_job(NewJob(kind, guild, channel, user, {}))
        if outcome is JobState.CANCELLED:
            return await store.cancel_job(job.id, reason) or job
        if outcome is JobState.QUEUED:
            return job
        await store.transition_job(job.id, from_states=[JobState.QUEUED], to=JobState.SUBMITTING)
        await store.transition_job(
            job.id,
            from_states=[JobState.SUBMITTING],
            to=JobState.SUBMITTED,
            submitted_at=at,
            kling_task_id=f"task-{job.id}",
        )
        if outcome is JobState.FAILED:
            return (
                await store.transition_job(
                    job.id,
                    from_states=[JobState.SUBMITTED],
                    to=JobState.FAILED,
                    units=units,
                    status_msg=reason,
                    finished_at=at + 60,
                )
                or job
            )
        await store.transition_job(job.id, from_states=[JobState.SUBMITTED], to=JobState.PROCESSING)
        if outcome is JobState.PROCESSING:
            return job
        await store.transition_job(
            job.id,
            from_states=[JobState.PROCESSING],
            to=JobState.SUCCEEDED,
            units=units,
            finished_at=at + 60,
            result_url="https://kling.example/result.mp4",
        )
        await store.claim_delivery(job.id)
        delivered = await store.mark_delivered(job.id, result_message_id)
        assert delivered is not None
        return delivered
    finally:
        clock.now = saved
