"""Paid jobs of the editing service: planning an edit or an animation, and submitting it.

A mixin of :class:`bot.editing.service.EditingService` (kept apart to keep modules short); the
public methods are part of the service's contract.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from bot.editing import media_steps, planning
from bot.editing.locks import SessionLocks
from bot.editing.renewal import SelectionKeeper, kling_session_id
from bot.editing.views import SubmitPlan
from bot.errors import UserFacingError
from bot.i18n import Msg
from bot.jobs.kling_backend import edit_request
from bot.jobs.runner import JobRunner
from bot.storage import Job, JobKind, JobLimits, NewJob, Session, Store

SESSION_ENDED = Msg("This editing session has ended; start a new one with `/kling edit`.")


class PaidJobs:
    store: Store
    runner: JobRunner
    media_dir: Path
    locks: SessionLocks
    selections: SelectionKeeper

    async def _active(self, session_id: int) -> Session:
        raise NotImplementedError

    async def plan_edit(
        self,
        session_id: int,
        *,
        kind: str,
        prompt: str,
        user_id: int,
        images: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        negative_prompt: str | None = None,
        mode: str | None = None,
    ) -> SubmitPlan:
        """Validate everything that can be checked locally and build the plan: the prompt from
        the mode's template unless the user wrote <<<video_1>>> tokens; image count per mode;
        reference images normalised (SPEC §6) and saved; duration from the video length; mode
        defaulted from the server settings. Raises UserFacingError; spends nothing."""
        session = await self._active(session_id)
        job_kind = planning.edit_kind(kind)
        points = await self.store.list_points(session_id)
        if not points:
            raise UserFacingError(
                Msg(
                    "Mark the object first (`/kling mark` or **Add points**), then submit the edit."
                )
            )
        planning.check_image_count(job_kind, len(images))
        built_prompt = planning.build_prompt(job_kind, prompt, image_count=len(images))
        negative = planning.clean_negative(negative_prompt)
        settings = await self.store.get_settings(session.guild_id)
        chosen_mode = planning.choose_mode(mode, settings)
        duration = await media_steps.edit_duration(session)
        folder = self.media_dir / "jobs" / uuid.uuid4().hex
        image_paths, notes = await media_steps.save_reference_images(images, folder)
        return SubmitPlan(
            session_id=session_id,
            guild_id=session.guild_id,
            channel_id=session.channel_id,
            requester_id=user_id,
            kind=job_kind.value,
            prompt=built_prompt,
            negative_prompt=negative,
            mode=chosen_mode,
            duration=duration,
            image_paths=tuple(image_paths),
            marked_frames=tuple(
                sorted(
                    (frame, sum(1 for p in points if p.frame_index == frame))
                    for frame in {p.frame_index for p in points}
                )
            ),
            notes=tuple(notes),
        )

    async def plan_animate(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        prompt: str,
        images: list[tuple[str, bytes]],
        negative_prompt: str | None = None,
        mode: str | None = None,
        duration: str = "5",
        aspect_ratio: str = "16:9",
    ) -> SubmitPlan:
        """Like plan_edit, for /kling animate (multi-image2video, 2–4 images, no session).
        Added beside the contract; submit() takes the plan it returns."""
        duration, aspect_ratio = str(duration).strip(), str(aspect_ratio).strip()
        planning.check_animate(len(images), duration, aspect_ratio)
        text = planning.animate_prompt(prompt, image_count=len(images))
        negative = planning.clean_negative(negative_prompt)
        chosen_mode = planning.choose_mode(mode, await self.store.get_settings(guild_id))
        folder = self.media_dir / "jobs" / uuid.uuid4().hex
        image_paths, notes = await media_steps.save_reference_images(images, folder)
        return SubmitPlan(
            session_id=None,
            guild_id=guild_id,
            channel_id=channel_id,
            requester_id=user_id,
            kind=JobKind.ANIMATE.value,
            prompt=text,
            negative_prompt=negative,
            mode=chosen_mode,
            duration=duration,
            image_paths=tuple(image_paths),
            aspect_ratio=aspect_ratio,
            notes=tuple(notes),
        )

    async def submit(self, plan: SubmitPlan) -> Job:
        """Create the job (quotas checked atomically) and hand it to the runner; the job id is
        sent as Kling's external_task_id."""
        settings = await self.store.get_settings(plan.guild_id)
        limits = JobLimits.from_settings(settings)
        if plan.session_id is None:
            return await self.runner.submit(planning.animate_job(plan), limits=limits)
        async with self.locks.for_session(plan.session_id):
            session = await self._active(plan.session_id)
            if await self.store.last_point(session.id) is None:
                raise UserFacingError(
                    Msg(
                        "The marks were cleared since this edit was prepared; mark the object"
                        " again."
                    )
                )
            # The edit uses Kling's selection: make sure it is the stored one.
            session = await self.selections.in_step(session)
            kind = JobKind(plan.kind)
            request = edit_request(
                kling_session_id=kling_session_id(session),
                kind=kind,
                prompt=plan.prompt,
                negative_prompt=plan.negative_prompt,
                mode=plan.mode,
                duration=plan.duration,
                image_paths=plan.image_paths,
            )
            return await self.runner.submit(
                NewJob(
                    kind=kind,
                    guild_id=plan.guild_id,
                    channel_id=plan.channel_id,
                    requester_id=plan.requester_id,
                    request=request,
                    session_id=session.id,
                ),
                limits=limits,
            )
