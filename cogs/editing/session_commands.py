"""`/kling status | end`: what this channel's session looks like, and closing it."""

from __future__ import annotations

from collections import Counter

import discord
from discord import app_commands

from bot.i18n import Joined, Msg, Text
from bot.storage import Job, Point, Session
from cogs.core.access import ensure_channel_enabled, guild_and_channel
from cogs.core.kling_group import editing_service, store_of
from cogs.core.languages import member_locale
from cogs.core.replies import send_reply
from cogs.editing.board import retire_board
from cogs.jobs.job_words import kind_name, state_name
from cogs.jobs.reasons import stored_reason

NO_SESSION = Msg("There is no editing session in this channel. Start one with `/kling edit`.")
ENDED = Msg("The editing session of this channel has ended.")
MAX_JOBS_SHOWN = 10


def status_text(session: Session, points: list[Point], jobs: list[Job]) -> Text:
    """The member's view of the session (rendered in their language by the caller)."""
    link = (
        f"https://discord.com/channels/{session.guild_id}/{session.channel_id}/"
        f"{session.board_message_id}"
    )
    v = session.video
    lines: list[object] = [
        Msg(
            "**Editing session** started by <@{user}> <t:{at}:R> · [board]({link})",
            user=session.created_by,
            at=int(session.created_at),
            link=link,
        ),
        Msg(
            "Video: {w}×{h}, {fps} fps, {frames} frames, {seconds} s",
            w=v.width,
            h=v.height,
            fps=f"{v.fps:g}",
            frames=v.total_frame,
            seconds=f"{v.duration:.1f}",
        ),
    ]
    per_frame = Counter(p.frame_index for p in points)
    if per_frame:
        frames = Joined(
            (Msg("{frame} ({points} pt)", frame=f, points=n) for f, n in sorted(per_frame.items())),
            ", ",
        )
        lines.append(
            Msg("Marked frames ({count}/10): {frames}", count=len(per_frame), frames=frames)
        )
        people = Counter(p.added_by for p in points).most_common()
        lines.append(
            Msg("Marked by: {people}", people=", ".join(f"<@{u}> ({n})" for u, n in people))
        )
    else:
        lines.append(Msg("No points marked yet."))
    if session.kling_expires_at:
        lines.append(
            Msg(
                "Kling session expires <t:{at}:R> (renewed automatically, points kept).",
                at=int(session.kling_expires_at),
            )
        )
    if jobs:
        lines.append(Msg("Jobs:"))
        for job in jobs[:MAX_JOBS_SHOWN]:
            reason = stored_reason(job.status_msg)
            extra = Joined((" — ", reason), "") if reason else ""
            lines.append(
                Msg(
                    "- `{id}` {kind}: **{state}**{extra}",
                    id=job.id[:8],
                    kind=kind_name(job.kind),
                    state=state_name(job.state),
                    extra=extra,
                )
            )
    else:
        lines.append(Msg("No jobs yet."))
    return Joined(lines, "\n")


class SessionCommands:
    """Mixed into cogs.editing.cog.EditingCog."""

    @app_commands.command(
        name="status", description="Show this channel's editing session and its jobs"
    )
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id, channel_id = guild_and_channel(interaction)
        await ensure_channel_enabled(interaction, store_of(interaction.client))
        service = editing_service(interaction.client)
        session = await service.active_session(guild_id, channel_id)
        if session is None:
            await send_reply(interaction, NO_SESSION)
            return
        store = store_of(interaction.client)
        text = status_text(
            session, await store.list_points(session.id), await store.session_jobs(session.id)
        )
        await interaction.followup.send(
            text.render(member_locale(interaction)),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="end", description="Close this channel's editing session")
    async def end(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id, channel_id = guild_and_channel(interaction)
        await ensure_channel_enabled(interaction, store_of(interaction.client))
        service = editing_service(interaction.client)
        session = await service.require_session(guild_id, channel_id)
        await service.end_session(session.id)
        await retire_board(interaction.client, session)
        await send_reply(interaction, ENDED)
