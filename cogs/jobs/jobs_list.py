"""`/kling jobs [user]`: the server's recent jobs with their status and links.

The command itself is declared by `cogs.jobs.cog.JobsCog`.
"""

from __future__ import annotations

import discord

from bot.i18n import Joined, Msg, render
from bot.policy import PolicyError
from bot.storage import Job, JobState, Store
from cogs.admin.cog import format_units
from cogs.core.access import ensure_channel_enabled, guild_id_of
from cogs.core.languages import member_locale
from cogs.jobs.job_words import kind_name, state_name
from cogs.jobs.reasons import stored_reason

RECENT_JOBS = 15
STATE_EMOJI = {
    JobState.QUEUED: "⏳",
    JobState.SUBMITTING: "⏳",
    JobState.SUBMITTED: "🔄",
    JobState.PROCESSING: "🔄",
    JobState.SUCCEEDED: "📤",
    JobState.DELIVERING: "📤",
    JobState.DELIVERED: "✅",
    JobState.FAILED: "❌",
    JobState.CANCELLED: "🚫",
}
REASON_CHARS = 80


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _units(units: float | None) -> Msg | None:
    if units is None:
        return None
    if units == 1:
        return Msg("{units} unit", units=format_units(units))
    return Msg("{units} units", units=format_units(units))


def job_line(job: Job, locale: object = None) -> str:
    """One line: status, kind, who, when, units, and a link to the result (or the job card)."""
    state = Joined((STATE_EMOJI.get(job.state, "•"), state_name(job.state)), " ")
    parts: list[object] = [
        state,
        Joined(("**", kind_name(job.kind), "**"), ""),
        f"<@{job.requester_id}>",
        f"<t:{int(job.created_at)}:R>",
    ]
    if (units := _units(job.units)) is not None:
        parts.append(units)
    if job.state is JobState.DELIVERED and job.result_message_id:
        link = message_link(job.guild_id, job.channel_id, job.result_message_id)
        parts.append(Msg("[result]({link})", link=link))
    elif job.card_message_id:
        card = message_link(job.guild_id, job.channel_id, job.card_message_id)
        parts.append(Msg("[job card]({link})", link=card))
    line = Joined(parts, " · ").render(locale)
    reason = stored_reason(job.status_msg) if job.state is JobState.FAILED else None
    if reason is not None:
        text = reason.render(locale).strip()
        if len(text) > REASON_CHARS:
            text = text[: REASON_CHARS - 1] + "…"
        line += f"\n  ↳ {discord.utils.escape_markdown(text)}"
    return line


def jobs_embed(
    jobs: list[Job], *, user: discord.abc.User | None, locale: object = None
) -> discord.Embed:
    """The member's view of recent jobs (ephemeral: in `locale`, the member's language)."""
    title = (
        Msg("Recent Kling jobs of {name}", name=user.display_name)
        if user
        else Msg("Recent Kling jobs")
    )
    embed = discord.Embed(title=title.render(locale), colour=discord.Colour.blurple())
    if not jobs:
        none = (
            Msg("{user} has no Kling jobs yet.", user=user.mention)
            if user
            else Msg("This server has no Kling jobs yet.")
        )
        embed.description = none.render(locale)
        return embed
    lines: list[str] = []
    size = 0
    for job in jobs:
        line = job_line(job, locale)
        # An embed description holds 4096 characters; stop before breaking it.
        if size + len(line) + 1 > 4000:
            break
        lines.append(line)
        size += len(line) + 1
    embed.description = "\n".join(lines)
    embed.set_footer(
        text=Msg("Newest first · the last {count} jobs", count=len(lines)).render(locale)
    )
    return embed


async def show_jobs(interaction: discord.Interaction, user: discord.Member | None = None) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    guild_id = guild_id_of(interaction)
    store: Store | None = getattr(interaction.client, "store", None)
    if store is None:
        raise RuntimeError("the database is not open")
    try:
        await ensure_channel_enabled(interaction, store)
    except PolicyError as refusal:
        await interaction.edit_original_response(
            content=render(refusal.message, member_locale(interaction))
        )
        return
    jobs = await store.recent_jobs(guild_id, user_id=user.id if user else None, limit=RECENT_JOBS)
    await interaction.edit_original_response(
        embed=jobs_embed(jobs, user=user, locale=member_locale(interaction)),
        allowed_mentions=discord.AllowedMentions.none(),
    )
