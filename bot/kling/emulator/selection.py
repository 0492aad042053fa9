"""Multi-Elements selection endpoints: init, add, delete, clear and preview."""

from __future__ import annotations

import asyncio
import base64
import io
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from PIL import Image

from bot.kling.emulator import validation as v
from bot.kling.emulator.envelope import KlingApiError, invalid, ok
from bot.kling.emulator.fetch import fetch_to_file
from bot.kling.emulator.renderer import ENCODER_PRESET, iter_frames, render_preview
from bot.kling.emulator.runtime import EmulatorRuntime, runtime_of
from bot.kling.emulator.segmentation import (
    Click,
    PreparedFrame,
    assign_object,
    grow_from_click,
    object_masks,
)
from bot.kling.emulator.state import Session
from bot.masks import encode_rle
from bot.media import MediaError, VideoInfo, extract_frame, probe_video, write_mp4
from bot.media.rules import check_video

_NO_CHARGE = {
    "final_unit_deduction": "0",
    "final_balance_deduction": {"quota": "0", "list_price": "0"},
}


async def read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise KlingApiError(1200, "request body must be valid JSON") from None
    return v.require_object(body)


def _probe(path: Path, field: str) -> VideoInfo:
    try:
        return probe_video(path)
    except MediaError as exc:
        raise invalid(f"{field} is not a readable video: {exc}") from None


def _normalise(source: Path, info: VideoInfo, target: Path) -> VideoInfo:
    """Kling re-serves the video it initialised; upright H.264 MP4 is copied, others re-encoded."""
    if info.container == "mp4" and info.codec == "h264" and info.rotation == 0:
        shutil.copyfile(source, target)
        return info
    write_mp4(iter_frames(source, info.rotation), target, info.fps, preset=ENCODER_PRESET)
    return probe_video(target)


async def _source_video(
    runtime: EmulatorRuntime, request: web.Request, body: dict[str, Any]
) -> tuple[Path, str]:
    video_id = v.optional_str(body, "video_id")
    video_url = v.optional_str(body, "video_url")
    if video_id and video_url:
        raise invalid("video_id and video_url cannot both be set")
    if video_id:
        video = runtime.store.videos.get(video_id)
        if video is None:
            raise KlingApiError(1203, f"video_id {video_id} does not exist")
        task_id = v.optional_str(body, "task_id")
        if task_id is not None and task_id != video.task_id:
            raise invalid(f"task_id {task_id} did not produce video_id {video_id}")
        return video.path, "video_id"
    if not video_url:
        raise invalid("one of video_id or video_url is required")
    if not v.is_url(video_url):
        raise invalid("video_url must be an http(s) URL")
    local = runtime.local_file_for(video_url, request)
    if local is not None:
        return local, "video_url"
    target = runtime.work_dir / f"upload-{uuid.uuid4().hex}"
    await fetch_to_file(
        runtime.http_client(),
        video_url,
        target,
        max_bytes=runtime.config.max_download_bytes,
        timeout_s=runtime.config.download_timeout_seconds,
        field="video_url",
    )
    return target, "video_url"


async def init_selection(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    source, field = await _source_video(runtime, request, body)
    info = await asyncio.to_thread(_probe, source, field)
    problems = check_video(info)
    if problems:
        raise invalid(f"{field}: " + " ".join(p.message for p in problems))
    session_id = runtime.store.new_id()
    path, url_path = runtime.new_file(f"normalized-{session_id}.mp4")
    info = await asyncio.to_thread(_normalise, source, info, path)
    session = Session(
        session_id=session_id,
        created_at=runtime.clock.now(),
        video_path=path,
        normalized_url_path=url_path,
        fps=info.fps,
        width=info.width,
        height=info.height,
        total_frame=info.frame_count,
        duration_s=info.duration_s,
    )
    runtime.store.sessions[session_id] = session
    return ok(
        {
            "status": 0,
            "session_id": session_id,
            **_NO_CHARGE,
            "fps": round(info.fps, 3),
            "original_duration": round(info.duration_s * 1000),
            "width": info.width,
            "height": info.height,
            "total_frame": info.frame_count,
            "normalized_video": runtime.base_url(request) + url_path,
        }
    )


def _frame(runtime: EmulatorRuntime, session: Session, index: int) -> PreparedFrame:
    frame = session.cached_frame(index)
    if frame is None:
        cache = runtime.work_dir / f"frames-{session.session_id}"
        frame = PreparedFrame.from_image(extract_frame(session.video_path, index, cache))
        session.remember_frame(index, frame)
    return frame


def _png_base64(mask: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _mask_list(masks: dict[int, np.ndarray]) -> list[dict[str, Any]]:
    items = []
    for object_id, mask in sorted(masks.items()):
        height, width = mask.shape
        items.append(
            {
                "object_id": object_id,
                "rle_mask": encode_rle(mask),
                "png_mask": {"size": [height, width], "base64": _png_base64(mask)},
            }
        )
    return items


def _selection_reply(
    session: Session, frame_index: int, masks: dict[int, np.ndarray]
) -> web.Response:
    return ok(
        {
            "status": 0,
            "session_id": session.session_id,
            **_NO_CHARGE,
            "res": {"frame_index": frame_index, "rle_mask_list": _mask_list(masks)},
        }
    )


def _add_points(
    runtime: EmulatorRuntime, session: Session, index: int, points: list[tuple[float, float]]
) -> dict[int, np.ndarray]:
    tolerance = runtime.config.colour_tolerance
    frame = _frame(runtime, session, index)
    clicks = session.clicks_snapshot()
    masks = object_masks(frame, index, clicks, tolerance)
    next_id = session.next_object_id
    added = []
    for x, y in points:
        object_id = assign_object(frame, x, y, masks, next_id)
        if object_id == next_id:
            next_id += 1
        colour = frame.seed_colour(x, y)
        grown = grow_from_click(frame, x, y, colour, tolerance)
        masks[object_id] = masks[object_id] | grown if object_id in masks else grown
        added.append(Click(x, y, object_id, colour))
    session.clicks.setdefault(index, []).extend(added)
    session.next_object_id = next_id
    return masks


async def _points_request(
    request: web.Request,
) -> tuple[EmulatorRuntime, Session, int, list[tuple[float, float]]]:
    """The session, frame and points of an add or delete call, validated in Kling's order."""
    runtime = runtime_of(request)
    body = await read_json(request)
    session = runtime.session(body.get("session_id"))
    index = v.frame_index(body, session.total_frame)
    return runtime, session, index, v.points(body)


async def add_selection(request: web.Request) -> web.Response:
    runtime, session, index, points = await _points_request(request)
    async with session.lock:
        marked = {i for i, clicks in session.clicks.items() if clicks}
        if index not in marked and len(marked) >= v.MAX_MARKED_FRAMES:
            raise invalid(f"frame_index: at most {v.MAX_MARKED_FRAMES} frames can be marked")
        existing = len(session.clicks.get(index, []))
        if existing + len(points) > v.MAX_POINTS_PER_FRAME:
            raise invalid(
                f"points: at most {v.MAX_POINTS_PER_FRAME} points per frame; frame {index} "
                f"already has {existing}"
            )
        masks = await asyncio.to_thread(_add_points, runtime, session, index, points)
    return _selection_reply(session, index, masks)


def _current_masks(runtime: EmulatorRuntime, session: Session, index: int) -> dict[int, np.ndarray]:
    frame = _frame(runtime, session, index)
    return object_masks(frame, index, session.clicks_snapshot(), runtime.config.colour_tolerance)


async def delete_selection(request: web.Request) -> web.Response:
    runtime, session, index, points = await _points_request(request)
    async with session.lock:
        remaining = list(session.clicks.get(index, []))
        for i, (x, y) in enumerate(points):
            match = next((c for c in remaining if c.x == x and c.y == y), None)
            if match is None:
                raise invalid(
                    f"points[{i}] ({x}, {y}) does not exactly match a point added on frame {index}"
                )
            remaining.remove(match)
        session.clicks[index] = remaining
        if not remaining:
            del session.clicks[index]
        masks = await asyncio.to_thread(_current_masks, runtime, session, index)
    return _selection_reply(session, index, masks)


async def clear_selection(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    session = runtime.session(body.get("session_id"))
    async with session.lock:
        session.clicks.clear()
    return _selection_reply(session, 0, {})


async def preview_selection(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    session = runtime.session(body.get("session_id"))
    async with session.lock:
        if session.point_count == 0:
            raise invalid("session_id has no selection to preview; add points first")
        stem = f"preview-{session.session_id}-{uuid.uuid4().hex[:8]}"
        video, video_url = runtime.new_file(stem + ".mp4")
        cover, cover_url = runtime.new_file(stem + ".png")
        tracking, tracking_url = runtime.new_file(stem + ".json")
        await runtime.render(
            render_preview,
            session.video_path,
            0,
            session.fps,
            session.clicks_snapshot(),
            runtime.config.colour_tolerance,
            runtime.config.preview_max_side,
            video,
            cover,
            tracking,
        )
    base = runtime.base_url(request)
    return ok(
        {
            "status": 0,
            "session_id": session.session_id,
            **_NO_CHARGE,
            "res": {
                "video": base + video_url,
                "video_cover": base + cover_url,
                "tracking_output": base + tracking_url,
            },
        }
    )
