"""What the emulator remembers: selection sessions, tasks and the videos tasks produced."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.kling.emulator.segmentation import Click, PreparedFrame

_FRAME_CACHE_SIZE = 4


def _id_source(seed: int) -> itertools.count[int]:
    # Kling ids are 18-digit numbers sent as strings.
    return itertools.count(seed)


@dataclass
class Session:
    session_id: str
    created_at: float
    video_path: Path
    normalized_url_path: str
    fps: float
    width: int
    height: int
    total_frame: int
    duration_s: float
    clicks: dict[int, list[Click]] = field(default_factory=dict)
    next_object_id: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    frames: OrderedDict[int, PreparedFrame] = field(default_factory=OrderedDict)

    def cached_frame(self, index: int) -> PreparedFrame | None:
        frame = self.frames.get(index)
        if frame is not None:
            self.frames.move_to_end(index)
        return frame

    def remember_frame(self, index: int, frame: PreparedFrame) -> None:
        self.frames[index] = frame
        while len(self.frames) > _FRAME_CACHE_SIZE:
            self.frames.popitem(last=False)

    def clicks_snapshot(self) -> dict[int, list[Click]]:
        return {index: list(clicks) for index, clicks in self.clicks.items() if clicks}

    @property
    def point_count(self) -> int:
        return sum(len(clicks) for clicks in self.clicks.values())


@dataclass
class ResultVideo:
    video_id: str
    task_id: str
    path: Path
    url_path: str
    duration_s: float


@dataclass
class Task:
    task_id: str
    kind: str  # "multi-elements" or "multi-image2video"
    created_at_ms: int
    updated_at_ms: int
    request: dict[str, Any]
    external_task_id: str | None
    callback_url: str | None
    units: str
    session_id: str | None = None
    status: str = "submitted"
    status_msg: str = ""
    videos: list[ResultVideo] = field(default_factory=list)
    parent_video: dict[str, str] | None = None

    def to_payload(self, base_url: str) -> dict[str, Any]:
        """The task as Kling's query endpoints describe it."""
        finished = self.status == "succeed"
        videos = []
        for video in self.videos:
            item = {
                "id": video.video_id,
                "url": base_url + video.url_path,
                "watermark_url": base_url + video.url_path,
                "duration": f"{video.duration_s:.1f}".rstrip("0").rstrip("."),
            }
            if self.session_id is not None:
                item["session_id"] = self.session_id
            videos.append(item)
        task_info: dict[str, Any] = {}
        if self.external_task_id is not None:
            task_info["external_task_id"] = self.external_task_id
        if self.parent_video is not None:
            task_info["parent_video"] = self.parent_video
        units = self.units if finished else "0"
        payload: dict[str, Any] = {
            "task_id": self.task_id,
            "task_status": self.status,
            "task_status_msg": self.status_msg,
            "task_info": task_info,
            "task_result": {"videos": videos} if finished else {},
            "watermark_info": {"enabled": bool(self.request.get("watermark_enabled"))},
            "final_unit_deduction": units,
            "final_balance_deduction": {"quota": units, "list_price": units},
            "created_at": self.created_at_ms,
            "updated_at": self.updated_at_ms,
        }
        if self.session_id is not None:
            payload["session_id"] = self.session_id
        return payload


class Store:
    """Sessions and tasks of one emulator; all access happens on the event loop."""

    def __init__(self) -> None:
        base = random.randrange(800_000_000_000_000_000, 900_000_000_000_000_000)
        self._ids = _id_source(base)
        self.sessions: dict[str, Session] = {}
        self.tasks: dict[str, Task] = {}
        self.external_ids: dict[str, str] = {}
        self.videos: dict[str, ResultVideo] = {}

    def new_id(self) -> str:
        return str(next(self._ids))

    def add_task(self, task: Task) -> None:
        self.tasks[task.task_id] = task
        if task.external_task_id is not None:
            self.external_ids[task.external_task_id] = task.task_id

    def find_task(
        self, kind: str, task_id: str | None = None, external_task_id: str | None = None
    ) -> Task | None:
        if external_task_id is not None:
            task_id = self.external_ids.get(external_task_id)
        task = self.tasks.get(task_id) if task_id is not None else None
        return task if task is not None and task.kind == kind else None

    def list_tasks(self, kind: str, page_num: int, page_size: int) -> list[Task]:
        newest_first = [t for t in reversed(self.tasks.values()) if t.kind == kind]
        start = (page_num - 1) * page_size
        return newest_first[start : start + page_size]
