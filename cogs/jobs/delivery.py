"""Posting finished videos (SPEC §5): implements ``bot.jobs.protocols.Deliverer``.

The result is always a NEW channel message sent with the bot token (an interaction token dies
after 15 minutes; a job may take an hour), mentioning only the requester. The video is attached
when it fits the channel's upload limit, re-encoded to fit otherwise, and linked when neither works.

Exactly once: the runner claims the delivery in SQLite before calling :meth:`deliver`, and before
any repeated attempt asks :meth:`find_delivery` whether an earlier attempt already posted. The
post carries ``job.delivery_key`` twice: as the message nonce (Discord drops a duplicate with the
same nonce for a few minutes) and, durably, inside the custom id of its **Edit this result**
button, which :meth:`find_delivery` looks for among the bot's recent messages in the channel.
When that search cannot decide (it read as many messages as it may without reaching the newest,
or Discord did not answer), it says so (``PostLookupUndecided``) and the runner asks again later,
reading further each time: it neither posts again nor reports a failure meanwhile.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

import discord

from bot.errors import UserFacingError
from bot.i18n import Joined, Msg
from bot.jobs import PostLookupUndecided
from bot.media.errors import MediaError
from bot.media.shrink import shrink_video
from bot.storage import Job
from cogs.core.emulator_note import on_emulator, with_emulator_note
from cogs.core.languages import server_locale
from cogs.core.tree import routed_callback
from cogs.editing.edit import open_session_from_video
from cogs.jobs.job_cards import job_summary, units_text

log = logging.getLogger(__name__)

RESULT_BUTTON_TEMPLATE = r"kling:result:(?P<job_id>[0-9A-Za-z_-]{1,64})"
ENTITY_TOO_LARGE = 40005
# Multipart framing and the JSON part travel with the file; aim a little under the limit.
_UPLOAD_HEADROOM = 0.98
_AFTER_413 = 0.25
# How far back (before the job finished at Kling) to look for an earlier post.
_HISTORY_SLACK = dt.timedelta(minutes=10)
# Messages one lookup may read (Discord serves 100 per request), times the number of lookups
# so far for the job, up to the maximum: a busy channel is searched further on each try.
HISTORY_LIMIT = 2_000
HISTORY_LIMIT_MAX = 50_000
KLING_LINK_DAYS = 30


def result_custom_id(job_id: str) -> str:
    return f"kling:result:{job_id}"


class EditResultButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=RESULT_BUTTON_TEMPLATE
):
    """**Edit this result**: a new editing session on the posted video; survives restarts."""

    def __init__(self, job_id: str, *, locale: object = None) -> None:
        # The label is worded when the post is made, in the server's language; a click
        # rebuilds the item from its custom id alone, which needs no label.
        super().__init__(
            discord.ui.Button(
                label=Msg("Edit this result", msgctxt="button").render(locale),
                style=discord.ButtonStyle.primary,
                emoji="✏️",
                custom_id=result_custom_id(job_id),
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> EditResultButton:
        return cls(match["job_id"])

    @routed_callback("button Edit this result")
    async def callback(self, interaction: discord.Interaction) -> None:
        # The "session is open" answer is for the presser; the board itself is public.
        await interaction.response.defer(ephemeral=True, thinking=True)
        video_url, filename = await self._result_video(interaction)
        await open_session_from_video(interaction, video_url, filename)

    async def _result_video(self, interaction: discord.Interaction) -> tuple[str, str]:
        message = interaction.message
        if message is not None:
            for attachment in message.attachments:
                if (attachment.content_type or "").startswith("video/") or (
                    attachment.filename.lower().endswith((".mp4", ".mov", ".webm"))
                ):
                    return attachment.url, attachment.filename
        store = getattr(interaction.client, "store", None)
        job = await store.get_job(self.job_id) if store is not None else None
        if job is None or not job.result_url:
            raise UserFacingError(Msg("The video of this result is no longer available."))
        return job.result_url, result_filename(job)


def result_filename(job: Job) -> str:
    return f"kling-{job.kind.value.replace('_', '-')}-{job.id[:8]}.mp4"


def _video_fits(path: Path, limit: int) -> bool:
    return path.stat().st_size <= limit


class DiscordDeliverer:
    """Posts results through the bot token; one instance per bot."""

    def __init__(self, client: discord.Client, *, retention_days: int = 30) -> None:
        self.client = client
        self.retention_days = retention_days
        # Upload limits Discord told us in interactions (`attachment_size_limit`), per server:
        # more precise than the premium-tier table behind `Guild.filesize_limit`.
        self.upload_limits: dict[int, int] = {}
        self.shrunk = 0
        self.linked = 0

    def remember_upload_limit(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id is not None:
            self.upload_limits[interaction.guild_id] = interaction.filesize_limit

    def upload_limit(self, guild_id: int) -> int:
        guild = self.client.get_guild(guild_id)
        limits = [discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES]
        if guild is not None:
            limits = [guild.filesize_limit]
        if guild_id in self.upload_limits:
            limits.append(self.upload_limits[guild_id])
        return min(limits)

    # -- Deliverer -------------------------------------------------------------------------

    async def deliver(self, job: Job, video: Path | None) -> int:
        channel = self.client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        limit = self.upload_limit(job.guild_id)
        upload = await self._fitting_video(job, video, limit) if video is not None else None
        while True:
            try:
                message = await self._post(
                    channel,
                    job,
                    upload,
                    too_large=video is not None,
                    reencoded=upload is not None and upload != video,
                )
            except discord.HTTPException as error:
                if video is None or upload is None or error.status != 413:
                    raise
                # Discord knows a smaller limit than we did (no interaction has told us this
                # server's yet): learn from it and try much smaller, so few tries are refused.
                size = upload.stat().st_size
                limit = int(size * _AFTER_413)
                self.upload_limits[job.guild_id] = limit
                log.info("job %s: %d bytes were too large here; trying %d", job.id, size, limit)
                upload = await self._fitting_video(job, video, limit)
                continue
            return message.id

    async def find_delivery(self, job: Job) -> int | None:
        """The earlier post of this result; None only after reading up to the newest message."""
        me = self.client.user
        if me is None:
            raise PostLookupUndecided("the bot is not logged in to Discord yet")
        if not job.delivery_key:
            return None  # the key is set by the first claim: no attempt has posted yet
        channel = self.client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        since = dt.datetime.fromtimestamp(job.finished_at or job.created_at, dt.UTC)
        after = discord.Object(discord.utils.time_snowflake(since - _HISTORY_SLACK))
        lookups = max(1, job.delivery_attempts - 1)  # the first attempt never looks
        limit = min(HISTORY_LIMIT_MAX, HISTORY_LIMIT * lookups)
        read = 0
        # Oldest first from shortly before the job finished: the post comes soon after that.
        async for message in channel.history(limit=limit, after=after):
            read += 1
            if message.author.id == me.id and _carries_key(message, job):
                return message.id
        if read >= limit:
            raise PostLookupUndecided(
                f"read {read} messages of channel {job.channel_id} without reaching the newest"
            )
        return None

    # -- posting ---------------------------------------------------------------------------

    async def _fitting_video(self, job: Job, video: Path, limit: int) -> Path | None:
        """`video` itself when it fits, a shrunk copy when that fits, else None (link)."""
        budget = int(limit * _UPLOAD_HEADROOM)
        if await asyncio.to_thread(_video_fits, video, budget):
            return video
        target = video.with_name(f"{video.stem}.fit-{budget}.mp4")
        try:
            shrunk = await asyncio.to_thread(shrink_video, video, target, budget)
        except (MediaError, OSError) as error:
            log.warning("job %s: could not shrink the result (%s); linking it", job.id, error)
            shrunk = None
        if shrunk is None:
            return None
        self.shrunk += 1
        return shrunk

    async def _post(
        self,
        channel: discord.PartialMessageable,
        job: Job,
        upload: Path | None,
        *,
        too_large: bool,
        reencoded: bool,
    ) -> discord.Message:
        # Everybody in the channel reads the result post: the server's language.
        locale = server_locale(self.client, job.guild_id)
        view = discord.ui.View(timeout=None)
        view.add_item(EditResultButton(job.id, locale=locale))
        text: list[object] = [
            Msg(
                "<@{user}> your result is ready: {summary}",
                user=job.requester_id,
                summary=job_summary(job),
            )
        ]
        if reencoded:
            text.append(Msg("Re-encoded to fit this channel's upload limit."))
        if upload is None:
            self.linked += 1
            text.append(self._link_text(job, too_large=too_large))
        text.append(units_text(job))
        with_emulator_note(text, on_emulator(self.client))
        file = discord.File(upload, filename=result_filename(job)) if upload else None
        kwargs: dict[str, Any] = {"file": file} if file is not None else {}
        # send() takes nonce=None (its default) but its overloads only admit str | int.
        if job.delivery_key is not None:
            kwargs["nonce"] = job.delivery_key
        return await channel.send(
            Joined(text, "\n").render(locale)[:2000],
            view=view,
            allowed_mentions=discord.AllowedMentions(
                users=[discord.Object(job.requester_id)], everyone=False, roles=False
            ),
            **kwargs,
        )

    def _link_text(self, job: Job, *, too_large: bool) -> Msg:
        if not job.result_url:
            if too_large:
                return Msg(
                    "The video is too large to attach in this channel, and Kling gave no link."
                )
            return Msg("The video could not be downloaded for attaching, and Kling gave no link.")
        if too_large:
            return Msg(
                "The video is too large to attach in this channel: {url}\n(Kling deletes "
                "its link after {days} days; the bot keeps its own copy for {kept} days.)",
                url=job.result_url,
                days=KLING_LINK_DAYS,
                kept=self.retention_days,
            )
        return Msg(
            "The video could not be downloaded for attaching: {url}\n(Kling deletes its "
            "link after {days} days.)",
            url=job.result_url,
            days=KLING_LINK_DAYS,
        )


def _carries_key(message: discord.Message, job: Job) -> bool:
    if message.nonce is not None and str(message.nonce) == job.delivery_key:
        return True
    wanted = result_custom_id(job.id)
    for row in message.components:
        for child in getattr(row, "children", ()):
            if getattr(child, "custom_id", None) == wanted:
                return True
    return False
