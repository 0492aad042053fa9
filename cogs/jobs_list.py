"""`/kling jobs [user]`: the server's recent jobs with their status and links.

The `/kling` group belongs to another cog; this extension adds its subcommand to that group when
it loads (so it must load after the cog that defines `/kling`) and removes it when unloaded.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.policy import PolicyError
from bot.storage import Job, JobKind, JobState, Store
from cogs.access import ensure_channel_enabled
from cogs.admin import format_units

RECENT_JOBS = 15
KIND_NAMES = {
    JobKind.EDIT_REMOVAL: "remove",
    JobKind.EDIT_SWAP: "swap",
    JobKind.EDIT_ADDITION: "add",
    JobKind.ANIMATE: "animate",
}
STATE_LABELS = {
    JobState.QUEUED: "⏳ queued",
    JobState.SUBMITTING: "⏳ submitting",
    JobState.SUBMITTED: "🔄 submitted",
    JobState.PROCESSING: "🔄 processing",
    JobState.SUCCEEDED: "📤 posting",
    JobState.DELIVERING: "📤 posting",
    JobState.DELIVERED: "✅ done",
    JobState.FAILED: "❌ failed",
    JobState.CANCELLED: "🚫 cancelled",
}
REASON_CHARS = 80


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _units(units: float | None) -> str | None:
    if units is None:
        return None
    return f"{format_units(units)} {'unit' if units == 1 else 'units'}"


def job_line(job: Job) -> str:
    """One line: status, kind, who, when, units, and a link to the result (or the job card)."""
    parts = [STATE_LABELS.get(job.state, job.state.value), f"**{KIND_NAMES[job.kind]}**",
             f"<@{job.requester_id}>", f"<t:{int(job.created_at)}:R>"]
    if (units := _units(job.units)) is not None:
        parts.append(units)
    if job.state is JobState.DELIVERED and job.result_message_id:
        link = message_link(job.guild_id, job.channel_id, job.result_message_id)
        parts.append(f"[result]({link})")
    elif job.card_message_id:
        card = message_link(job.guild_id, job.channel_id, job.card_message_id)
        parts.append(f"[job card]({card})")
    line = " · ".join(parts)
    if job.state is JobState.FAILED and job.status_msg:
        reason = job.status_msg.strip()
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 1] + "…"
        line += f"\n  ↳ {discord.utils.escape_markdown(reason)}"
    return line


def jobs_embed(jobs: list[Job], *, user: discord.abc.User | None) -> discord.Embed:
    title = f"Recent Kling jobs of {user.display_name}" if user else "Recent Kling jobs"
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    if not jobs:
        whose = f"{user.mention} has" if user else "This server has"
        embed.description = f"{whose} no Kling jobs yet."
        return embed
    lines: list[str] = []
    size = 0
    for job in jobs:
        line = job_line(job)
        # An embed description holds 4096 characters; stop before breaking it.
        if size + len(line) + 1 > 4000:
            break
        lines.append(line)
        size += len(line) + 1
    embed.description = "\n".join(lines)
    embed.set_footer(text=f"Newest first · the last {len(lines)} jobs")
    return embed


@app_commands.command(name="jobs", description="Recent jobs in this server, with status and links")
@app_commands.describe(user="Only this member's jobs")
async def jobs_command(interaction: discord.Interaction,
                      user: discord.Member | None = None) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    assert interaction.guild_id is not None
    store: Store | None = getattr(interaction.client, "store", None)
    if store is None:
        raise RuntimeError("the database is not open")
    try:
        await ensure_channel_enabled(interaction, store)
    except PolicyError as refusal:
        await interaction.edit_original_response(content=refusal.user_message)
        return
    jobs = await store.recent_jobs(interaction.guild_id, user_id=user.id if user else None,
                                   limit=RECENT_JOBS)
    await interaction.edit_original_response(
        embed=jobs_embed(jobs, user=user), allowed_mentions=discord.AllowedMentions.none())


def kling_group(bot: commands.Bot) -> app_commands.Group:
    group = bot.tree.get_command("kling")
    if not isinstance(group, app_commands.Group):
        raise RuntimeError("cogs.jobs_list must load after the cog that defines /kling")
    return group


async def setup(bot: commands.Bot) -> None:
    kling_group(bot).add_command(jobs_command)


async def teardown(bot: commands.Bot) -> None:
    group = bot.tree.get_command("kling")
    if isinstance(group, app_commands.Group):
        group.remove_command(jobs_command.name)
