"""`/kling status | end`: what this channel's session looks like, and closing it."""

from __future__ import annotations

from collections import Counter

import discord

from bot.storage import Job, Point, Session
from cogs.access import ensure_channel_enabled
from cogs.board import retire_board
from cogs.kling_group import KLING, editing_service, store_of
from cogs.replies import send_reply

# User-facing text.
NO_SESSION = "There is no editing session in this channel. Start one with `/kling edit`."
STATUS_HEAD = "**Editing session** started by <@{user}> <t:{at}:R> · [board]({link})"
STATUS_VIDEO = "Video: {w}×{h}, {fps:g} fps, {frames} frames, {seconds:.1f} s"
STATUS_FRAMES = "Marked frames ({count}/10): {frames}"
STATUS_NO_POINTS = "No points marked yet."
STATUS_PEOPLE = "Marked by: {people}"
STATUS_EXPIRY = "Kling session expires <t:{at}:R> (renewed automatically, points kept)."
STATUS_JOBS = "Jobs:"
STATUS_JOB = "- `{id}` {kind}: **{state}**{extra}"
STATUS_NO_JOBS = "No jobs yet."
ENDED = "The editing session of this channel has ended."


def status_text(session: Session, points: list[Point], jobs: list[Job]) -> str:
    link = (f"https://discord.com/channels/{session.guild_id}/{session.channel_id}/"
            f"{session.board_message_id}")
    v = session.video
    lines = [STATUS_HEAD.format(user=session.created_by, at=int(session.created_at), link=link),
             STATUS_VIDEO.format(w=v.width, h=v.height, fps=v.fps, frames=v.total_frame,
                                 seconds=v.duration)]
    per_frame = Counter(p.frame_index for p in points)
    if per_frame:
        frames = ", ".join(f"{f} ({n} pt)" for f, n in sorted(per_frame.items()))
        lines.append(STATUS_FRAMES.format(count=len(per_frame), frames=frames))
        people = Counter(p.added_by for p in points).most_common()
        lines.append(STATUS_PEOPLE.format(
            people=", ".join(f"<@{u}> ({n})" for u, n in people)))
    else:
        lines.append(STATUS_NO_POINTS)
    if session.kling_expires_at:
        lines.append(STATUS_EXPIRY.format(at=int(session.kling_expires_at)))
    if jobs:
        lines.append(STATUS_JOBS)
        for job in jobs[:10]:
            extra = f" — {job.status_msg}" if job.status_msg else ""
            lines.append(STATUS_JOB.format(id=job.id[:8], kind=str(job.kind).removeprefix(
                "edit_"), state=str(job.state), extra=extra))
    else:
        lines.append(STATUS_NO_JOBS)
    return "\n".join(lines)


class SessionCommands:
    """Mixed into cogs.status.KlingCog."""

    @KLING.command(name="status", description="Show this channel's editing session and its jobs")
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None and interaction.channel_id is not None
        await ensure_channel_enabled(interaction, store_of(interaction.client))
        service = editing_service(interaction.client)
        session = await service.active_session(interaction.guild_id, interaction.channel_id)
        if session is None:
            await send_reply(interaction, NO_SESSION)
            return
        store = store_of(interaction.client)
        text = status_text(session, await store.list_points(session.id),
                           await store.session_jobs(session.id))
        await interaction.followup.send(text, ephemeral=True,
                                        allowed_mentions=discord.AllowedMentions.none())

    @KLING.command(name="end", description="Close this channel's editing session")
    async def end(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None and interaction.channel_id is not None
        await ensure_channel_enabled(interaction, store_of(interaction.client))
        service = editing_service(interaction.client)
        session = await service.require_session(interaction.guild_id, interaction.channel_id)
        await service.end_session(session.id)
        await retire_board(interaction.client, session)
        await send_reply(interaction, ENDED)
