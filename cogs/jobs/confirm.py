"""Before a paid job: the plan, the confirmation card (SPEC §5), and the submit itself.

The card is ephemeral, so only the submitter sees it, and its buttons refuse anyone else anyway.
It shows the mode, the duration, the prompt exactly as it will be sent, thumbnails of the
reference images and the frames marked (and, for animate, the aspect ratio). Servers can turn the
card off (`confirm_submits`). Every paid job, edit or animate, goes through :func:`submit_plan`,
which checks the member's policy again and the submit cooldown right before the service sends it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import ui

from bot.editing import SubmitPlan
from bot.errors import UserFacingError
from bot.i18n import Joined, Msg, render, translate
from bot.storage import Job
from cogs.core.access import ensure_member_can_submit, ensure_submit_allowed, guild_and_channel
from cogs.core.cooldowns import (
    SUBMIT,
    CooldownError,
    enforce_cooldown,
    refund_submit,
    submit_wait,
)
from cogs.core.emulator_note import on_emulator, with_emulator_note
from cogs.core.kling_group import editing_service, store_of
from cogs.core.languages import member_locale
from cogs.core.replies import fit_view, send_reply
from cogs.core.stale_clicks import CONFIRM_PREFIX, card_finished
from cogs.core.tree import report_error
from cogs.jobs.job_cards import post_job_card
from cogs.jobs.job_words import kind_name, kind_title

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 25 * 1024 * 1024
CONFIRM_TIMEOUT_S = 10 * 60

# The card and the answers are ephemeral: in the submitter's language.
NOT_YOURS = Msg("Only the member who asked for this job can submit or cancel it.")
CANCELLED = Msg("Cancelled: nothing was sent to Kling.")
BEING_SUBMITTED = Msg("This job is being submitted; the card changes once it is sent.")
WAS_CANCELLED = Msg("This card was cancelled; nothing was sent to Kling.")

WHERE = "submit confirmation"


async def read_images(attachments: list[discord.Attachment]) -> list[tuple[str, bytes]]:
    images = []
    for attachment in attachments:
        if attachment.size > MAX_IMAGE_BYTES:
            raise UserFacingError(
                Msg(
                    "`{name}` is {size} MB; reference images can be at most {cap} MB.",
                    name=attachment.filename,
                    size=f"{attachment.size / 1e6:.1f}",
                    cap=MAX_IMAGE_BYTES // (1024 * 1024),
                )
            )
        images.append((attachment.filename, await attachment.read()))
    return images


def already_submitted(job: Job) -> Msg:
    return Msg(
        "This job was already submitted as job `{job}`; its progress card is in the channel.",
        job=job.id,
    )


def card_text(
    plan: SubmitPlan,
    locale: object = None,
    *,
    emulator: bool = False,
    ready_at: datetime | None = None,
) -> str:
    lines: list[object] = [
        Msg("### Submit this {kind} job?", kind=kind_name(plan.kind)),
        Msg(
            "**Mode:** {mode} · **Duration:** {duration} s", mode=plan.mode, duration=plan.duration
        ),
    ]
    if plan.marked_frames:
        frames = Joined(
            (Msg("{frame} ({points} pt)", frame=f, points=n) for f, n in plan.marked_frames), ", "
        )
        lines.append(Msg("**Marked frames:** {frames}", frames=frames))
    if plan.aspect_ratio:
        lines.append(Msg("**Aspect ratio:** {aspect}", aspect=plan.aspect_ratio))
    if plan.image_paths:
        count = len(plan.image_paths)
        lines.append(
            Msg("**Images:** {count}", count=count)
            if plan.session_id is None
            else Msg("**Reference images:** {count}", count=count)
        )
    if plan.negative_prompt:
        lines.append(Msg("**Negative prompt:** {negative}", negative=plan.negative_prompt))
    # The service's notes (image conversions and the like) are translatable Text already.
    lines.extend(Joined(("-# ", note), "") for note in plan.notes)
    if ready_at is not None:
        lines.append(
            Msg("⏳ **Submit** works again {when}.", when=discord.utils.format_dt(ready_at, "R"))
        )
    lines.append(Msg("**Prompt sent to Kling:**\n>>> {prompt}", prompt=plan.prompt))
    return Joined(with_emulator_note(lines, emulator), "\n").render(locale)


def reference_files(plan: SubmitPlan) -> list[discord.File]:
    return [
        discord.File(path, filename=f"reference{i}{path.suffix or '.jpg'}")
        for i, path in enumerate(plan.image_paths, start=1)
    ]


class ConfirmSubmitView(ui.LayoutView):
    def __init__(
        self,
        plan: SubmitPlan,
        on_submit: Callable[[discord.Interaction, SubmitPlan], Awaitable[None]],
        locale: object = None,
        *,
        emulator: bool = False,
        ready_at: datetime | None = None,
    ) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT_S)
        self.plan = plan
        self._on_submit = on_submit
        self._submitting = False
        # The buttons' ids name this card, so a click on an old copy of it (after it was
        # submitted or cancelled) can be told what became of it (cogs.core.stale_clicks).
        self.card = secrets.token_hex(8)
        container: ui.Container[ui.LayoutView] = ui.Container(
            ui.TextDisplay(card_text(plan, locale, emulator=emulator, ready_at=ready_at)),
            accent_colour=discord.Colour.gold(),
        )
        if plan.image_paths:
            container.add_item(
                ui.MediaGallery(
                    *[
                        discord.MediaGalleryItem(f"attachment://{f.filename}")
                        for f in reference_files(plan)
                    ]
                )
            )
        submit: ui.Button[ui.LayoutView] = ui.Button(
            label=translate(locale, "Submit", msgctxt="button"),
            style=discord.ButtonStyle.success,
            custom_id=f"{CONFIRM_PREFIX}{self.card}:submit",
        )
        cancel: ui.Button[ui.LayoutView] = ui.Button(
            label=translate(locale, "Cancel", msgctxt="button"),
            style=discord.ButtonStyle.secondary,
            custom_id=f"{CONFIRM_PREFIX}{self.card}:cancel",
        )
        # discord.py's way to give one button its own callback is to assign it; mypy refuses any
        # assignment to a method.
        submit.callback = self._submit  # type: ignore[method-assign]
        cancel.callback = self._cancel  # type: ignore[method-assign]
        container.add_item(ui.ActionRow(submit, cancel))
        self.add_item(container)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.plan.requester_id:
            await interaction.response.send_message(
                NOT_YOURS.render(member_locale(interaction)), ephemeral=True
            )
            return False
        return True

    async def _finish(self, interaction: discord.Interaction, text: str, *, outcome: Msg) -> None:
        # Before stop(): from then on old copies are unheard.
        card_finished(interaction.client, self.card, outcome)
        self.stop()
        done = ui.LayoutView()
        done.add_item(ui.Container(ui.TextDisplay(render(text, member_locale(interaction)))))
        await interaction.edit_original_response(view=done, attachments=[])

    async def _submit(self, interaction: discord.Interaction) -> None:
        if self._submitting:  # a second click while the first one is being sent
            await send_reply(interaction, BEING_SUBMITTED)
            return
        wait = submit_wait(interaction)
        if wait is not None:
            # Said before acknowledging, so privately; the card stays as it is and its Submit
            # works once the wait is over.
            await report_error(interaction, CooldownError(wait), where=WHERE)
            return
        self._submitting = True
        try:
            await interaction.response.defer()
            await self._on_submit(interaction, self.plan)
        except Exception as exc:
            await report_error(interaction, exc, where=WHERE)
        finally:
            self._submitting = False

    async def _cancel(self, interaction: discord.Interaction) -> None:
        if self._submitting:
            await send_reply(interaction, BEING_SUBMITTED)
            return
        await interaction.response.defer()
        await self._finish(interaction, CANCELLED, outcome=WAS_CANCELLED)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error, where=WHERE)


async def submit_plan(interaction: discord.Interaction, plan: SubmitPlan) -> tuple[Job, Msg]:
    """The one way to a paid call: check the member again (settings and usage may have changed
    since the plan was made), the submit cooldown, then send the job and post its progress card.
    Returns the job and a note for the submitter."""
    await ensure_member_can_submit(interaction, store_of(interaction.client), mode=plan.mode)
    enforce_cooldown(interaction, SUBMIT)
    try:
        job = await editing_service(interaction.client).submit(plan)
    except BaseException:
        refund_submit(interaction)  # no job was made: the try does not count
        raise
    kind = kind_title(plan.kind)
    try:
        card_id = await post_job_card(interaction.client, plan.channel_id, job)
    except discord.HTTPException as exc:
        # The job is in the runner either way; the card is a convenience.
        log.warning("could not post the card of job %s: %s", job.id, exc)
        return job, Msg(
            "Submitted job `{job}` ({kind}). The result will be posted in this channel.",
            job=job.id,
            kind=kind,
        )
    guild = plan.guild_id
    link = f"https://discord.com/channels/{guild}/{plan.channel_id}/{card_id}"
    return job, Msg(
        "Submitted job `{job}` ({kind}). Its progress card is in the channel: {link}",
        job=job.id,
        kind=kind,
        link=link,
    )


async def plan_and_confirm(
    interaction: discord.Interaction,
    *,
    session_id: int | None,
    kind: str,
    prompt: str,
    attachments: list[discord.Attachment],
    negative_prompt: str | None,
    mode: str | None,
) -> None:
    """Plan an edit (spends nothing), then confirm with the submitter or submit straight away.

    The interaction must be acknowledged already (ephemeral, so the card is the submitter's).
    A member who may not submit hears so before anything else is looked at or downloaded.
    `session_id` None means this channel's session.
    """
    await ensure_submit_allowed(interaction, store_of(interaction.client), mode=mode)
    service = editing_service(interaction.client)
    if session_id is None:
        session_id = (await service.require_session(*guild_and_channel(interaction))).id
    images = await read_images(attachments)
    plan = await service.plan_edit(
        session_id,
        kind=str(kind),
        prompt=prompt,
        user_id=interaction.user.id,
        images=images,
        negative_prompt=negative_prompt,
        mode=mode,
    )
    await confirm_or_submit(interaction, plan)


async def confirm_or_submit(interaction: discord.Interaction, plan: SubmitPlan) -> None:
    """Show the confirmation card, or submit at once when the server turned the card off."""
    settings = await store_of(interaction.client).get_settings(plan.guild_id)
    if not settings.confirm_submits:
        _job, note = await submit_plan(interaction, plan)
        await send_reply(interaction, note)
        return

    async def confirmed(inner: discord.Interaction, confirmed_plan: SubmitPlan) -> None:
        job, note = await submit_plan(inner, confirmed_plan)
        await view._finish(inner, note, outcome=already_submitted(job))

    wait = submit_wait(interaction)
    ready_at = discord.utils.utcnow() + timedelta(seconds=wait) if wait is not None else None
    view = ConfirmSubmitView(
        plan,
        confirmed,
        member_locale(interaction),
        emulator=on_emulator(interaction.client),
        ready_at=ready_at,
    )
    # A 2,500-character prompt and negative prompt together are longer than a layout may be.
    await interaction.followup.send(
        view=fit_view(view), files=reference_files(plan), ephemeral=True
    )
