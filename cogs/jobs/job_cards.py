"""Job cards: one message per job in its channel, edited in place as the job moves (SPEC §5).

:class:`JobCards` implements ``bot.jobs.protocols.JobObserver``. It never waits on Discord inside
a runner callback: each event only records the newest snapshot of the job, and a per-job flusher
edits the card through the bot token, at most once per ``interval`` (10 s), so a burst of state
changes becomes one edit. The submit flow posts the first card with :func:`post_job_card`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import discord

from bot.i18n import Joined, Msg, Text
from bot.storage import Job, JobKind, JobState, Store
from cogs.core.cooldowns import refund_unsent_job
from cogs.core.emulator_note import on_emulator, with_emulator_note
from cogs.core.languages import server_locale
from cogs.core.replies import fit_content
from cogs.jobs.job_words import kind_title
from cogs.jobs.reasons import stored_reason

log = logging.getLogger(__name__)

CARD_EDIT_INTERVAL = 10.0
UNKNOWN_MESSAGE = 10008
NO_MENTIONS = discord.AllowedMentions.none()

_PROMPT_PREVIEW = 120


class RunnerView(Protocol):
    """What the cards read from the job runner."""

    def queue_position(self, job_id: str) -> int | None: ...

    def estimate(self, kind: JobKind) -> float | None: ...


def duration_text(seconds: float) -> Msg:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return Msg("{seconds} s", seconds=seconds)
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return Msg("{minutes} min {seconds} s", minutes=minutes, seconds=f"{rest:02d}")
    hours, minutes = divmod(minutes, 60)
    return Msg("{hours} h {minutes} min", hours=hours, minutes=f"{minutes:02d}")


def ordinal(n: int) -> Msg:
    """1st, 2nd, 3rd, 4th... (each language words its ordinals its own way)."""
    if 10 <= n % 100 <= 20 or n % 10 not in (1, 2, 3):
        return Msg("{n}th", msgctxt="ordinal", n=n)
    if n % 10 == 1:
        return Msg("{n}st", msgctxt="ordinal", n=n)
    if n % 10 == 2:
        return Msg("{n}nd", msgctxt="ordinal", n=n)
    return Msg("{n}rd", msgctxt="ordinal", n=n)


def job_summary(job: Job) -> Text:
    """`Remove · std · 5 s · "the red car"` from the stored request."""
    request = job.request
    parts: list[object] = [kind_title(job.kind), str(request.get("mode", "std"))]
    if request.get("duration"):
        parts.append(f"{request['duration']} s")
    prompt = " ".join(str(request.get("prompt") or "").split())
    if len(prompt) > _PROMPT_PREVIEW:
        prompt = prompt[: _PROMPT_PREVIEW - 1] + "…"
    if prompt:
        parts.append(f"“{discord.utils.escape_markdown(prompt)}”")
    return Joined(parts, " · ")


def units_text(job: Job) -> Msg:
    """What Kling charged, said honestly (including when it is not known)."""
    if job.units is not None:
        return Msg("Kling charged {units} units.", units=f"{job.units:g}")
    if job.state.accepted_by_kling or (job.state is JobState.FAILED and job.kling_task_id):
        return Msg("Kling has not reported the units charged.")
    return Msg("Nothing was charged.")


def failure_reason(job: Job) -> Text:
    return stored_reason(job.status_msg) or Msg("Kling did not say why.")


def _elapsed(job: Job, now: float) -> float:
    end = job.finished_at if job.state.is_terminal and job.finished_at else now
    return end - job.created_at


def _status(job: Job, queue_position: int | None) -> Text:
    state = job.state
    if state is JobState.QUEUED:
        if queue_position:
            return Msg(
                "⏳ Queued ({place} in line): waiting for a free slot at Kling.",
                place=ordinal(queue_position),
            )
        return Msg("⏳ Queued: waiting for a free slot at Kling.")
    if state is JobState.SUBMITTING:
        return Msg("📤 Sending to Kling…")
    if state is JobState.SUBMITTED:
        return Msg("📨 Submitted: Kling accepted the job.")
    if state is JobState.PROCESSING:
        return Msg("⚙️ Processing at Kling…")
    if state in (JobState.SUCCEEDED, JobState.DELIVERING):
        return Msg("📥 Finished at Kling; posting the video…")
    if state is JobState.DELIVERED:
        return Msg("✅ Done: the result is posted below.")
    if state is JobState.FAILED:
        return Msg("❌ Failed: {reason}", reason=failure_reason(job))
    reason = stored_reason(job.status_msg) or Msg("the job was not sent.")
    return Msg("🚫 Cancelled: {reason}", reason=reason)


def card_message(
    job: Job,
    *,
    now: float,
    queue_position: int | None = None,
    estimate: float | None = None,
    emulator: bool = False,
) -> Text:
    """The card of `job` as of wall-clock time `now`, as a message (render it in the server's
    language: a card is a channel message)."""
    state = job.state
    lines: list[object] = [
        Msg("**Kling job** · {summary}", summary=job_summary(job)),
        _status(job, queue_position),
    ]
    elapsed = duration_text(_elapsed(job, now))
    if not state.is_terminal and estimate:
        lines.append(
            Msg(
                "Elapsed {elapsed} · jobs like this usually take about {estimate}",
                elapsed=elapsed,
                estimate=duration_text(estimate),
            )
        )
    else:
        lines.append(Msg("Elapsed {elapsed}", elapsed=elapsed))
    if state in (JobState.DELIVERED, JobState.FAILED):
        lines.append(units_text(job))
    lines.append(Msg("Requested by <@{user}> · job `{job}`", user=job.requester_id, job=job.id[:8]))
    return Joined(with_emulator_note(lines, emulator), "\n")


def render_card(
    job: Job,
    *,
    now: float,
    queue_position: int | None = None,
    estimate: float | None = None,
    locale: object = None,
    emulator: bool = False,
) -> str:
    """The card's text for `job` as of wall-clock time `now`, in `locale` (English if None)."""
    return card_message(
        job, now=now, queue_position=queue_position, estimate=estimate, emulator=emulator
    ).render(locale)


class _Card:
    __slots__ = ("flusher", "gone", "job", "last_edit", "message_id", "posting")

    def __init__(self, job: Job, message_id: int | None) -> None:
        self.job = job
        self.message_id = message_id
        self.last_edit: float | None = None
        self.flusher: asyncio.Task[None] | None = None
        self.posting = False  # the first card is being posted
        self.gone = False  # Discord said the message no longer exists: never edit it again


class JobCards:
    """The runner's observer: keeps every job's card up to date, edit-throttled per card."""

    def __init__(
        self,
        client: discord.Client,
        *,
        store: Callable[[], Store | None],
        runner: Callable[[], RunnerView | None],
        interval: float = CARD_EDIT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self._store = store
        self._runner = runner
        self.interval = interval
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._cards: dict[str, _Card] = {}
        self.edits = 0

    # -- the submit flow -------------------------------------------------------------------

    async def post(self, channel_id: int, job: Job) -> int:
        """Post the first card of `job` and remember (and store) its message id."""
        card = self._cards.get(job.id)
        if card is None:
            card = self._cards[job.id] = _Card(job, None)
        elif card.job.updated_at > job.updated_at:
            job = card.job  # the runner already moved it on
        card.posting = True
        channel = self.client.get_partial_messageable(channel_id, guild_id=job.guild_id)
        try:
            message = await channel.send(self._render(job), allowed_mentions=NO_MENTIONS)
        except BaseException:
            card.posting = False
            self._forget_if_done(card)  # no card to edit: forgotten once the job is over
            raise
        card.posting = False
        card.message_id = message.id
        card.gone = False
        card.last_edit = self._clock()
        store = self._store()
        if store is not None:
            await store.set_card_message(job.id, message.id)
        if card.job.updated_at > job.updated_at:
            self._schedule(card)  # something happened while the card was being posted
        return message.id

    # -- JobObserver -----------------------------------------------------------------------

    async def on_state_change(self, job: Job) -> None:
        self._update(job)

    async def on_progress(self, job: Job, elapsed: float, estimate: float | None) -> None:
        self._update(job)

    async def on_finished(self, job: Job) -> None:
        refund_unsent_job(self.client, job)  # first: the requester may be about to try again
        self._update(job)
        if job.state is JobState.FAILED:
            await self._tell_requester_it_failed(job)

    # -- internals -------------------------------------------------------------------------

    def _render(self, job: Job) -> str:
        runner = self._runner()
        place = runner.queue_position(job.id) if runner is not None else None
        estimate = runner.estimate(job.kind) if runner is not None else None
        # Kling's failure reason has no length limit: the card must still fit one message.
        return fit_content(
            render_card(
                job,
                now=self._wall_clock(),
                queue_position=place,
                estimate=estimate,
                locale=server_locale(self.client, job.guild_id),
                emulator=on_emulator(self.client),
            )
        )

    def _update(self, job: Job) -> None:
        card = self._cards.get(job.id)
        if card is None:
            card = self._cards[job.id] = _Card(job, job.card_message_id)
        elif job.updated_at >= card.job.updated_at:
            card.job = job
        if card.message_id is None and not card.gone:
            card.message_id = job.card_message_id
        if card.message_id is not None:
            self._schedule(card)
        else:
            self._forget_if_done(card)

    def _forget_if_done(self, card: _Card) -> None:
        # A job without a card to edit (its post failed, or the message was deleted) is only
        # remembered while a post may still give it one.
        job = card.job
        if (
            job.state.is_terminal
            and not card.posting
            and card.flusher is None
            and self._cards.get(job.id) is card
        ):
            del self._cards[job.id]

    def tracks(self, job_id: str) -> bool:
        """Whether this job's card is still followed (edits may still come)."""
        return job_id in self._cards

    def _schedule(self, card: _Card) -> None:
        if card.flusher is None or card.flusher.done():
            card.flusher = asyncio.create_task(self._flush(card), name=f"job-card-{card.job.id}")

    async def _flush(self, card: _Card) -> None:
        if card.last_edit is not None:
            wait = card.last_edit + self.interval - self._clock()
            if wait > 0:
                await self._sleep(wait)
        job = card.job
        card.last_edit = self._clock()
        await self._edit(card, job)
        card.flusher = None
        if card.message_id is None:
            self._forget_if_done(card)
        elif card.job is not job:
            self._schedule(card)  # a newer snapshot arrived during the edit
        elif job.state.is_terminal:
            self._cards.pop(job.id, None)

    async def _edit(self, card: _Card, job: Job) -> None:
        if card.message_id is None:
            return
        channel = self.client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        try:
            await channel.get_partial_message(card.message_id).edit(
                content=self._render(job), allowed_mentions=NO_MENTIONS
            )
            self.edits += 1
        except discord.NotFound as error:
            # 10008 Unknown Message (or the whole channel is gone): every later edit would
            # be refused the same way.
            log.info("job %s: its card is gone (%s); not editing it any more", job.id, error.code)
            card.message_id, card.gone = None, True
            store = self._store()
            if store is not None:  # nor after a restart
                with contextlib.suppress(Exception):
                    await store.set_card_message(job.id, None)
        except discord.HTTPException as error:
            log.warning("job %s: could not edit its card (%s)", job.id, error)

    async def _tell_requester_it_failed(self, job: Job) -> None:
        """Edits do not notify anyone: a short reply pings the requester with the reason."""
        channel = self.client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        card_id = self._card_id(job)
        # send() takes reference=None (its default) but its overloads only admit a reference.
        kwargs: dict[str, Any] = {}
        if card_id:
            kwargs["reference"] = discord.MessageReference(
                message_id=card_id, channel_id=job.channel_id, fail_if_not_exists=False
            )
        text = Msg(
            "<@{user}> your {summary} job failed: {reason} {units}",
            user=job.requester_id,
            summary=job_summary(job),
            reason=failure_reason(job),
            units=units_text(job),
        ).render(server_locale(self.client, job.guild_id))
        with contextlib.suppress(discord.HTTPException):
            await channel.send(
                fit_content(text),
                allowed_mentions=discord.AllowedMentions(
                    users=[discord.Object(job.requester_id)], everyone=False, roles=False
                ),
                **kwargs,
            )

    def _card_id(self, job: Job) -> int | None:
        card = self._cards.get(job.id)
        if card is not None and card.message_id is not None:
            return card.message_id
        return job.card_message_id

    async def close(self) -> None:
        """Cancel pending edits (the next start renders cards from the database again)."""
        flushers = [c.flusher for c in self._cards.values() if c.flusher is not None]
        for task in flushers:
            task.cancel()
        await asyncio.gather(*flushers, return_exceptions=True)


async def post_job_card(bot: discord.Client, channel_id: int, job: Job) -> int:
    """Post `job`'s card in `channel_id`; returns the card message id (also stored on the job)."""
    cards = getattr(bot, "job_cards", None)
    if not isinstance(cards, JobCards):
        raise RuntimeError("the bot has no job cards (KlingBot.setup_hook did not run)")
    return await cards.post(channel_id, job)
