"""Task endpoints (multi-elements and multi-image2video) and the background task lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from bot.kling.emulator import validation as v
from bot.kling.emulator.callbacks import deliver, legacy_payload
from bot.kling.emulator.envelope import KlingApiError, invalid, ok
from bot.kling.emulator.fetch import fetch_bytes
from bot.kling.emulator.renderer import render_edit, render_multi_image
from bot.kling.emulator.runtime import EmulatorRuntime, runtime_of
from bot.kling.emulator.selection import read_json
from bot.kling.emulator.state import ResultVideo, Task

log = logging.getLogger(__name__)

EDIT = "multi-elements"
MULTI_IMAGE = "multi-image2video"
_POLICY_FAILURE = (
    "Failure to pass the risk control system: the prompt was refused by content policy"
)
_RENDER_FAILURE = "Internal error while generating the video"


async def _load_images(runtime: EmulatorRuntime, values: list[str]) -> list[Image.Image]:
    images = []
    for i, value in enumerate(values):
        field = f"image_list[{i}].image"
        if v.is_url(value):
            data = await fetch_bytes(
                runtime.http_client(),
                value,
                max_bytes=v.MAX_IMAGE_BYTES,
                timeout_s=runtime.config.download_timeout_seconds,
                field=field,
            )
        else:
            data = v.decode_base64_image(value, field)
        images.append(await asyncio.to_thread(v.check_image_bytes, data, field))
    return images


def _common(runtime: EmulatorRuntime, body: dict[str, Any]) -> dict[str, Any]:
    """Fields both task kinds share, validated in the order Kling documents them."""
    model = body.get("model_name")
    if model not in (None, "") and model not in v.MODEL_NAMES:
        raise invalid(f"model_name must be one of {', '.join(v.MODEL_NAMES)}, got {model!r}")
    fields: dict[str, Any] = {
        "prompt": v.required_str(body, "prompt", max_chars=v.MAX_PROMPT_CHARS),
        "negative_prompt": v.optional_str(body, "negative_prompt", max_chars=v.MAX_PROMPT_CHARS),
        "mode": v.choice(body, "mode", v.MODES, "std"),
        "duration": v.choice(body, "duration", v.DURATIONS, "5"),
        "callback_url": v.callback_url(body),
        "external_task_id": v.external_task_id(body),
    }
    watermark = body.get("watermark_info")
    if watermark is not None and not isinstance(watermark, dict):
        raise invalid('watermark_info must be an object like {"enabled": false}')
    fields["watermark_enabled"] = bool((watermark or {}).get("enabled", False))
    external = fields["external_task_id"]
    if external is not None and external in runtime.store.external_ids:
        raise invalid(f"external_task_id {external} already exists")
    return fields


def _new_task(
    runtime: EmulatorRuntime, kind: str, fields: dict[str, Any], session_id: str | None
) -> Task:
    now = runtime.now_ms()
    units = runtime.config.units.get((kind, fields["mode"], fields["duration"]), "1")
    task = Task(
        task_id=runtime.store.new_id(),
        kind=kind,
        created_at_ms=now,
        updated_at_ms=now,
        request=fields,
        external_task_id=fields["external_task_id"],
        callback_url=fields["callback_url"],
        units=units,
        session_id=session_id,
    )
    runtime.store.add_task(task)
    return task


def _created_reply(task: Task) -> web.Response:
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": task.status,
        "task_info": {"external_task_id": task.external_task_id} if task.external_task_id else {},
        "created_at": task.created_at_ms,
        "updated_at": task.updated_at_ms,
    }
    if task.session_id is not None:
        data["session_id"] = task.session_id
    return ok(data)


async def create_edit_task(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    session = runtime.session(body.get("session_id"))
    edit_mode = v.choice(body, "edit_mode", v.EDIT_MODES, None)
    low, high = v.IMAGES_PER_EDIT_MODE[edit_mode]
    image_values = v.image_list(body, low, high, what=edit_mode)
    fields = _common(runtime, body)
    if runtime.config.strict_prompt_refs:
        v.check_prompt_refs(fields["prompt"], len(image_values))
    v.check_duration_fits(fields["duration"], session.duration_s)
    images = await _load_images(runtime, image_values)
    async with session.lock:
        clicks = session.clicks_snapshot()
    if not clicks:
        raise invalid("session_id has no selection; add points before creating a task")
    task = _new_task(runtime, EDIT, {**fields, "edit_mode": edit_mode}, session.session_id)
    config = runtime.config

    def render(out: Path) -> float:
        return render_edit(
            session.video_path,
            0,
            session.fps,
            clicks,
            edit_mode,
            images,
            config.colour_tolerance,
            out,
        )

    runtime.spawn(run_task(runtime, task, render, runtime.base_url(request)))
    return _created_reply(task)


async def create_multi_image_task(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    image_values = v.image_list(body, 1, v.MAX_MULTI_IMAGES, what="multi-image2video")
    fields = _common(runtime, body)
    aspect_ratio = v.choice(body, "aspect_ratio", v.ASPECT_RATIOS, "16:9")
    images = await _load_images(runtime, image_values)
    task = _new_task(runtime, MULTI_IMAGE, {**fields, "aspect_ratio": aspect_ratio}, None)
    seconds = float(fields["duration"])
    long_side = runtime.config.image2video_long_side

    def render(out: Path) -> float:
        return render_multi_image(images, aspect_ratio, seconds, long_side, out)

    runtime.spawn(run_task(runtime, task, render, runtime.base_url(request)))
    return _created_reply(task)


async def run_task(
    runtime: EmulatorRuntime, task: Task, render: Callable[[Path], float], base_url: str
) -> None:
    """submitted -> processing -> succeed/failed, one stage per `seconds_per_stage`."""
    stage = runtime.config.seconds_per_stage
    await _notify(runtime, task, base_url)
    await runtime.clock.sleep(stage)
    _set_status(runtime, task, "processing")
    await _notify(runtime, task, base_url)
    prompt = task.request["prompt"].lower()
    if any(word.lower() in prompt for word in runtime.config.forbidden_words):
        await runtime.clock.sleep(stage)
        _set_status(runtime, task, "failed", _POLICY_FAILURE)
        await _notify(runtime, task, base_url)
        return
    video_id = runtime.store.new_id()
    path, url_path = runtime.new_file(f"result-{task.task_id}-{video_id}.mp4")
    try:
        duration = await asyncio.to_thread(render, path)
    except Exception:
        log.exception("emulator task %s failed to render", task.task_id)
        _set_status(runtime, task, "failed", _RENDER_FAILURE)
        await _notify(runtime, task, base_url)
        return
    await runtime.clock.sleep(stage)
    video = ResultVideo(video_id, task.task_id, path, url_path, duration)
    runtime.store.videos[video_id] = video
    task.videos.append(video)
    _set_status(runtime, task, "succeed")
    await _notify(runtime, task, base_url)


def _set_status(runtime: EmulatorRuntime, task: Task, status: str, message: str = "") -> None:
    task.status = status
    task.status_msg = message
    task.updated_at_ms = runtime.now_ms()


async def _notify(runtime: EmulatorRuntime, task: Task, base_url: str) -> None:
    if not task.callback_url:
        return
    payload = legacy_payload(task.to_payload(base_url))
    delivery = await deliver(
        runtime.http_client(), task.callback_url, payload, runtime.config.webhook_secret
    )
    runtime.deliveries.append(delivery)


def _kind_of(request: web.Request) -> str:
    return EDIT if "multi-elements" in request.path else MULTI_IMAGE


async def get_task(request: web.Request) -> web.Response:
    """By task_id, or by external_task_id given in the path (tried second)."""
    runtime = runtime_of(request)
    kind = _kind_of(request)
    key = request.match_info["task_id"]
    task = runtime.store.find_task(kind, task_id=key) or runtime.store.find_task(
        kind, external_task_id=key
    )
    if task is None:
        raise KlingApiError(1203, f"task {key} does not exist")
    return ok(task.to_payload(runtime.base_url(request)))


async def list_tasks(request: web.Request) -> web.Response:
    """A page of tasks, newest first; `?external_task_id=` instead answers that one task."""
    runtime = runtime_of(request)
    kind = _kind_of(request)
    base_url = runtime.base_url(request)
    external = request.query.get("external_task_id") or request.query.get("task_id")
    if external:
        task = runtime.store.find_task(kind, external_task_id=external) or runtime.store.find_task(
            kind, task_id=external
        )
        if task is None:
            raise KlingApiError(1203, f"task {external} does not exist")
        return ok(task.to_payload(base_url))
    page_num, page_size = v.page_params(dict(request.query))
    tasks = runtime.store.list_tasks(kind, page_num, page_size)
    return ok([task.to_payload(base_url) for task in tasks])
