"""The asyncio Kling client: every Multi-Elements and Multi-Image-to-Video endpoint.

Which failures are retried (all with exponential backoff and full jitter):

- Calls that are safe to repeat (init/clear/preview selection, every GET) are retried on any
  ``retryable`` error. A repeated init merely opens a second session; the first one expires.
- add-/delete-selection are *not* idempotent in effect (adding a point twice stacks a duplicate
  click that then counts towards the 10-point limit and must be deleted twice), so they are retried
  only when the failure proves Kling never acted: a 1302/1303 throttle, or a connection that was
  never made. After a timeout or 5xx the error goes to the caller, who can re-read the state.
- Task creation always carries an ``external_task_id`` (a uuid4 hex unless the caller gives one).
  After an ambiguous failure (timeout or dropped connection after sending, 5xx/5000-5002, or an
  unreadable success), the client waits ``reconcile_delay`` and looks the task up by that id: if it
  exists it is returned; if it is definitely absent the same body (same id) is sent again. A
  refusal of the id as taken (``refuses_duplicate_id``; after an ambiguous send, any 1200/1201) is
  looked up once more and the task adopted. If the lookup fails, or cannot find a task Kling says
  exists, ``CreateOutcomeUnknownError`` tells the caller to reconcile later. Kling
  requires external ids to be unique per account, which backs this up: no path sends a second
  create that could succeed alongside the first.
- Paths have no trailing slash (newer docs); if a create route answers 404/1202, the slashed
  spelling of the 2025 docs is tried once (a missing route cannot have stored a task).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp

from bot.i18n import Msg
from bot.kling.auth import Provider
from bot.kling.errors import (
    CreateOutcomeUnknownError,
    InvalidInputError,
    KlingError,
    NotFoundError,
)
from bot.kling.models import (
    PreviewResult,
    SelectionResult,
    SelectionSession,
    Task,
    TaskPage,
)
from bot.kling.retry import (
    RetryPolicy,
    create_outcome_unknown,
    proves_not_processed,
    refuses_duplicate_id,
    unknown_route,
)
from bot.kling.task_requests import CreateEditTask, CreateMultiImageTask
from bot.kling.transport import Envelope, Transport
from bot.kling.wire import MAX_POINTS_PER_FRAME as MAX_POINTS_PER_FRAME
from bot.kling.wire import check_selection_status, read_data, require_id, selection_body

log = logging.getLogger("bot.kling")

EDIT_PATH = "/v1/videos/multi-elements"
MULTI_IMAGE_PATH = "/v1/videos/multi-image2video"

Sleep = Callable[[float], Awaitable[None]]

_INIT_REJECTED = Msg(
    "Kling could not use this video; it needs 2-5 s or 7-10 s, 720-2160 px sides, 24/30/60 fps."
)


class KlingClient:
    """Talks to Kling (or CometAPI, or the emulator) over a caller-owned ``aiohttp`` session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        provider: Provider,
        *,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        total_timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        new_external_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        reconcile_delay: float = 2.0,
    ) -> None:
        self.provider = provider
        self._transport = Transport(
            session,
            provider,
            base_url=base_url,
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
        )
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng
        self._new_external_id = new_external_id
        self._reconcile_delay = reconcile_delay

    def __repr__(self) -> str:
        return f"KlingClient(provider={self.provider!r})"

    # ----- selection (Multi-Elements §2.2-2.6) -----

    async def init_selection(
        self,
        *,
        video_url: str | None = None,
        video_id: str | None = None,
        task_id: str | None = None,
    ) -> SelectionSession:
        """Open a selection session on a video given by public URL or by Kling video id.

        ``task_id`` (the task that generated ``video_id``) is sent only when given; Kling's docs
        do not mention it and CometAPI's pages disagree, so it stays the caller's choice.
        """
        if (video_url is None) == (video_id is None):
            raise ValueError("give exactly one of video_url or video_id")
        if task_id is not None and video_id is None:
            raise ValueError("task_id only goes with video_id")
        body: dict[str, Any] = {"video_url": video_url} if video_url else {"video_id": video_id}
        if task_id is not None:
            body["task_id"] = task_id
        envelope = await self._call("POST", f"{EDIT_PATH}/init-selection", json_body=body)
        session = read_data(SelectionSession.from_payload, envelope)
        check_selection_status(session.status, envelope, _INIT_REJECTED)
        return session

    async def add_selection(
        self, session_id: str, frame_index: int, points: Sequence[tuple[float, float]]
    ) -> SelectionResult:
        """Mark points (x, y in 0..1 from the top-left) on one frame; returns the new masks."""
        body = selection_body(session_id, frame_index, points)
        return await self._selection_call("add-selection", body, idempotent=False)

    async def delete_selection(
        self, session_id: str, frame_index: int, points: Sequence[tuple[float, float]]
    ) -> SelectionResult:
        """Remove points; they must be exactly the floats sent to ``add_selection``."""
        body = selection_body(session_id, frame_index, points)
        return await self._selection_call("delete-selection", body, idempotent=False)

    async def clear_selection(self, session_id: str) -> SelectionResult:
        return await self._selection_call(
            "clear-selection", {"session_id": require_id(session_id)}, idempotent=True
        )

    async def preview_selection(self, session_id: str) -> PreviewResult:
        body = {"session_id": require_id(session_id)}
        envelope = await self._call("POST", f"{EDIT_PATH}/preview-selection", json_body=body)
        data = envelope.data if isinstance(envelope.data, Mapping) else {}
        check_selection_status(data.get("status", 0), envelope, None)
        return read_data(PreviewResult.from_payload, envelope)

    # ----- Multi-Elements tasks (§2.7, §2.8) -----

    async def create_edit_task(self, request: CreateEditTask) -> Task:
        return await self._create(EDIT_PATH, request)

    async def get_edit_task(
        self, *, task_id: str | None = None, external_task_id: str | None = None
    ) -> Task:
        return await self._get_task(EDIT_PATH, task_id, external_task_id)

    async def list_edit_tasks(self, page_num: int = 1, page_size: int = 30) -> TaskPage:
        return await self._list(EDIT_PATH, page_num, page_size)

    # ----- Multi-Image-to-Video (§6) -----

    async def create_multi_image_task(self, request: CreateMultiImageTask) -> Task:
        return await self._create(MULTI_IMAGE_PATH, request)

    async def get_multi_image_task(
        self, *, task_id: str | None = None, external_task_id: str | None = None
    ) -> Task:
        return await self._get_task(MULTI_IMAGE_PATH, task_id, external_task_id)

    async def list_multi_image_tasks(self, page_num: int = 1, page_size: int = 30) -> TaskPage:
        return await self._list(MULTI_IMAGE_PATH, page_num, page_size)

    async def find_task_by_external_id(self, base_path: str, external_task_id: str) -> Task | None:
        """Look a task up by our own id; None only when Kling says it does not exist.

        The docs call ``external_task_id`` a "request path parameter", which reads as
        ``GET {base}/{external_task_id}``; third-party code sends ``GET {base}?external_task_id=``.
        The path form is tried first because it is the docs' literal wording. On 404/1202/1203
        (or 400/1201, an id Kling refuses to parse as a task id) the query form is tried; if that
        answers with the list (the parameter ignored), the page is searched for the id.
        """
        require_id(external_task_id)
        try:
            envelope = await self._call("GET", f"{base_path}/{external_task_id}")
        except (NotFoundError, InvalidInputError):
            envelope = None
        if envelope is not None:
            task = read_data(Task.from_payload, envelope)
            if task.external_task_id in (None, external_task_id):
                return task
        try:
            envelope = await self._call(
                "GET", base_path, params={"external_task_id": external_task_id}
            )
        except NotFoundError:
            return None
        if isinstance(envelope.data, list):
            page = read_data(lambda d: TaskPage.from_payload(d, page_num=1, page_size=0), envelope)
            return next((t for t in page.tasks if t.external_task_id == external_task_id), None)
        if envelope.data is None:
            return None
        task = read_data(Task.from_payload, envelope)
        return task if task.external_task_id in (None, external_task_id) else None

    # ----- internals -----

    async def _selection_call(
        self, action: str, body: dict[str, Any], *, idempotent: bool
    ) -> SelectionResult:
        envelope = await self._call(
            "POST", f"{EDIT_PATH}/{action}", json_body=body, idempotent=idempotent
        )
        result = read_data(SelectionResult.from_payload, envelope)
        check_selection_status(result.status, envelope, None)
        return result

    async def _get_task(
        self, base_path: str, task_id: str | None, external_task_id: str | None
    ) -> Task:
        if task_id is not None and external_task_id is None:
            envelope = await self._call("GET", f"{base_path}/{require_id(task_id)}")
            return read_data(Task.from_payload, envelope)
        if task_id is not None or external_task_id is None:
            raise ValueError("give exactly one of task_id or external_task_id")
        task = await self.find_task_by_external_id(base_path, external_task_id)
        if task is None:
            raise NotFoundError(f"no task with external_task_id {external_task_id}")
        return task

    async def _list(self, base_path: str, page_num: int, page_size: int) -> TaskPage:
        if not 1 <= page_num <= 1000:
            raise ValueError("page_num must be within 1-1000")
        if not 1 <= page_size <= 500:
            raise ValueError("page_size must be within 1-500")
        params = {"pageNum": str(page_num), "pageSize": str(page_size)}
        envelope = await self._call("GET", base_path, params=params)
        return read_data(
            lambda data: TaskPage.from_payload(data, page_num=page_num, page_size=page_size),
            envelope,
        )

    async def _create(self, base_path: str, request: CreateEditTask | CreateMultiImageTask) -> Task:
        external_id = request.external_task_id or self._new_external_id()
        body = request.with_external_task_id(external_id).to_body()
        create_path = base_path
        failures = 0
        maybe_created = False
        while True:
            try:
                envelope = await self._transport.request("POST", create_path, json_body=body)
                return read_data(Task.from_payload, envelope)
            except KlingError as error:
                if create_path == base_path and unknown_route(error):
                    # The 2025 docs wrote the create path with a trailing slash; a route that
                    # does not exist cannot have stored anything, so the other spelling is safe.
                    create_path = base_path + "/"
                    continue
                failures += 1
                # After an ambiguous send, any 1200/1201 on the resend may mean "that id is
                # taken" even when Kling's message does not say so: look before reporting it.
                duplicate = refuses_duplicate_id(error)
                taken = duplicate or (maybe_created and isinstance(error, InvalidInputError))
                if create_outcome_unknown(error) or taken:
                    maybe_created = True
                    task = await self._reconcile(base_path, external_id, error, taken=duplicate)
                    if task is not None:
                        return task
                    if duplicate:
                        # Kling says the task exists, but the lookup does not show it yet: never
                        # report a failure for a task Kling runs (and charges for); look later.
                        raise CreateOutcomeUnknownError(
                            f"Kling refused external_task_id {external_id} as taken, and the "
                            "lookup did not find it yet",
                            external_task_id=external_id,
                            known_to_exist=True,
                            code=error.code,
                            http_status=error.http_status,
                            request_id=error.request_id,
                        ) from error
                    if taken:
                        raise  # absent after all: a real input error
                elif not proves_not_processed(error):
                    raise
                if failures >= self._retry.max_attempts:
                    raise
                await self._back_off(failures, "POST", base_path, error)

    async def _reconcile(
        self, base_path: str, external_id: str, cause: KlingError, *, taken: bool = False
    ) -> Task | None:
        log.info(
            "kling POST %s: %s, looking up external_task_id %s",
            base_path,
            type(cause).__name__,
            external_id,
        )
        await self._sleep(self._reconcile_delay)
        try:
            return await self.find_task_by_external_id(base_path, external_id)
        except KlingError as lookup_error:
            raise CreateOutcomeUnknownError(
                f"create failed ({type(cause).__name__}) and the lookup failed too "
                f"({type(lookup_error).__name__})",
                external_task_id=external_id,
                known_to_exist=taken,
                code=lookup_error.code,
                http_status=lookup_error.http_status,
                request_id=lookup_error.request_id,
            ) from lookup_error

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> Envelope:
        failures = 0
        while True:
            try:
                return await self._transport.request(
                    method, path, json_body=json_body, params=params
                )
            except KlingError as error:
                failures += 1
                repeatable = error.retryable if idempotent else proves_not_processed(error)
                if not repeatable or failures >= self._retry.max_attempts:
                    raise
                await self._back_off(failures, method, path, error)

    async def _back_off(self, failures: int, method: str, path: str, error: KlingError) -> None:
        delay = self._retry.delay(failures, self._rng)
        log.info(
            "kling %s %s: %s (code %s), try %d failed, retrying in %.2f s",
            method,
            path,
            type(error).__name__,
            error.code,
            failures,
            delay,
        )
        await self._sleep(delay)
