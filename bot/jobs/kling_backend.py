"""Adapter from stored jobs to :class:`bot.kling.client.KlingClient` calls.

A job's ``request`` JSON holds everything needed to (re)build the create call; reference images are
files on disk (``image_paths``), read and base64-encoded at send time, so the database never holds
image blobs and a resubmission after a restart sends byte-identical images.

Request shapes (build them with :func:`edit_request` / :func:`animate_request`)::

    edit:    {"session_id", "edit_mode", "prompt", "negative_prompt", "mode", "duration",
              "image_paths": [...]}
    animate: {"prompt", "negative_prompt", "mode", "duration", "aspect_ratio", "image_paths": [...]}
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.i18n import Msg
from bot.kling.client import EDIT_PATH, MULTI_IMAGE_PATH, KlingClient
from bot.kling.errors import InvalidInputError
from bot.kling.models import Task
from bot.kling.task_requests import CreateEditTask, CreateMultiImageTask
from bot.storage import Job, JobKind

EDIT_MODES = {
    JobKind.EDIT_REMOVAL: "removal",
    JobKind.EDIT_SWAP: "swap",
    JobKind.EDIT_ADDITION: "addition",
}


def edit_request(
    *,
    kling_session_id: str,
    kind: JobKind,
    prompt: str,
    negative_prompt: str | None = None,
    mode: str = "std",
    duration: str = "5",
    image_paths: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """The ``request`` JSON of an edit job (prompt exactly as it will be sent)."""
    if kind not in EDIT_MODES:
        raise ValueError(f"{kind} is not an edit")
    return {
        "session_id": kling_session_id,
        "edit_mode": EDIT_MODES[kind],
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "mode": mode,
        "duration": str(duration),
        "image_paths": [str(p) for p in image_paths],
    }


def animate_request(
    *,
    prompt: str,
    image_paths: Sequence[str | Path],
    negative_prompt: str | None = None,
    mode: str = "std",
    duration: str = "5",
    aspect_ratio: str = "16:9",
) -> dict[str, Any]:
    """The ``request`` JSON of a multi-image2video job."""
    return {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "mode": mode,
        "duration": str(duration),
        "aspect_ratio": aspect_ratio,
        "image_paths": [str(p) for p in image_paths],
    }


def _read_base64(path: str) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


async def _images(request: dict[str, Any]) -> list[str]:
    paths = [str(p) for p in request.get("image_paths") or []]
    try:
        return [await asyncio.to_thread(_read_base64, p) for p in paths]
    except OSError as error:
        raise InvalidInputError(
            f"reference image unreadable: {type(error).__name__}",
            user_message=Msg("A reference image of this job is missing on the bot's disk."),
        ) from error


class KlingTaskBackend:
    """Implements :class:`bot.jobs.protocols.TaskBackend` with the real client."""

    def __init__(
        self, client: KlingClient, *, callback_url: str | Callable[[Job], str] | None = None
    ) -> None:
        """``callback_url``: one URL for every job, or a function giving each job its own."""
        self._client = client
        self._callback_url = callback_url

    def _callback_for(self, job: Job) -> str | None:
        if callable(self._callback_url):
            return self._callback_url(job)
        return self._callback_url

    async def create(self, job: Job) -> Task:
        request = job.request
        callback_url = self._callback_for(job)
        images = await _images(request)
        try:
            if job.kind is JobKind.ANIMATE:
                animate = CreateMultiImageTask(
                    images=images,
                    prompt=request["prompt"],
                    negative_prompt=request.get("negative_prompt"),
                    mode=request.get("mode", "std"),
                    duration=request.get("duration", "5"),
                    aspect_ratio=request.get("aspect_ratio", "16:9"),
                    external_task_id=job.id,
                    callback_url=callback_url,
                )
                return await self._client.create_multi_image_task(animate)
            edit = CreateEditTask(
                session_id=request["session_id"],
                edit_mode=request.get("edit_mode", EDIT_MODES[job.kind]),
                prompt=request["prompt"],
                images=images,
                negative_prompt=request.get("negative_prompt"),
                mode=request.get("mode", "std"),
                duration=request.get("duration", "5"),
                external_task_id=job.id,
                callback_url=callback_url,
            )
        except (KeyError, ValueError) as error:
            raise InvalidInputError(
                f"stored request is not valid: {error}",
                user_message=Msg("This job's stored request is not valid; please submit it again."),
            ) from error
        return await self._client.create_edit_task(edit)

    async def get(self, job: Job) -> Task:
        if job.kling_task_id is None:
            raise ValueError(f"job {job.id} has no Kling task id yet")
        if job.kind is JobKind.ANIMATE:
            return await self._client.get_multi_image_task(task_id=job.kling_task_id)
        return await self._client.get_edit_task(task_id=job.kling_task_id)

    async def find(self, job: Job) -> Task | None:
        path = MULTI_IMAGE_PATH if job.kind is JobKind.ANIMATE else EDIT_PATH
        return await self._client.find_task_by_external_id(path, job.id)
