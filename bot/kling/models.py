"""Typed views of Kling's response payloads (reference §2, §6).

Every parser takes the envelope's ``data`` object and is deliberately forgiving: unknown fields are
ignored, optional fields may be missing, and numbers may arrive as strings (``"30.0"``, ``"5"``),
because the docs themselves type several numeric fields as ``string``. Required identifiers that are
missing raise ``ValueError``; the client turns that into ``MalformedResponseError``.

Sequences are tuples so the frozen dataclasses stay truly immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Request-side types live in their own module; re-exported so callers can import all models here.
from bot.kling.task_requests import CreateEditTask, CreateMultiImageTask, EditMode

__all__ = [
    "BalanceDeduction",
    "CreateEditTask",
    "CreateMultiImageTask",
    "EditMode",
    "MaskObject",
    "PreviewResult",
    "SelectionResult",
    "SelectionSession",
    "Task",
    "TaskPage",
    "TaskStatus",
    "TaskVideo",
]


def _as_str(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    return text if text != "" else None


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_int(value: Any) -> int | None:
    number = _as_float(value)
    if number is None or number != number:  # NaN
        return None
    return int(number)


def _as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _require_str(data: Mapping[str, Any], key: str) -> str:
    value = _as_str(data.get(key))
    if value is None:
        raise ValueError(f"missing {key!r} in Kling response")
    return value


@dataclass(frozen=True)
class BalanceDeduction:
    quota: float | None
    list_price: float | None

    @classmethod
    def from_payload(cls, data: Any) -> BalanceDeduction | None:
        if not isinstance(data, Mapping):
            return None
        return cls(quota=_as_float(data.get("quota")), list_price=_as_float(data.get("list_price")))


@dataclass(frozen=True)
class SelectionSession:
    """Result of init-selection. ``original_duration`` is in milliseconds."""

    session_id: str
    status: int
    fps: float | None
    original_duration: int | None
    width: int | None
    height: int | None
    total_frame: int | None
    normalized_video: str | None
    final_unit_deduction: float | None
    final_balance_deduction: BalanceDeduction | None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> SelectionSession:
        return cls(
            session_id=_require_str(data, "session_id"),
            status=_as_int(data.get("status")) or 0,
            fps=_as_float(data.get("fps")),
            original_duration=_as_int(data.get("original_duration")),
            width=_as_int(data.get("width")),
            height=_as_int(data.get("height")),
            total_frame=_as_int(data.get("total_frame")),
            normalized_video=_as_str(data.get("normalized_video")),
            final_unit_deduction=_as_float(data.get("final_unit_deduction")),
            final_balance_deduction=BalanceDeduction.from_payload(
                data.get("final_balance_deduction")
            ),
        )


@dataclass(frozen=True)
class MaskObject:
    """One tracked object's mask: ``rle_mask`` is ``{"size": [h, w], "counts": str}``."""

    object_id: int
    rle_mask: dict[str, Any]
    png_mask: dict[str, Any] | None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> MaskObject:
        rle = data.get("rle_mask")
        if not isinstance(rle, Mapping) or "counts" not in rle:
            raise ValueError("mask without 'rle_mask.counts' in Kling response")
        png = data.get("png_mask")
        return cls(
            object_id=_as_int(data.get("object_id")) or 0,
            rle_mask=dict(rle),
            png_mask=dict(png) if isinstance(png, Mapping) else None,
        )


@dataclass(frozen=True)
class SelectionResult:
    """Result of add-/delete-/clear-selection: the masks Kling now tracks on ``frame_index``."""

    session_id: str
    status: int
    frame_index: int | None
    masks: tuple[MaskObject, ...]
    final_unit_deduction: float | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> SelectionResult:
        res = _as_dict(data.get("res"))
        masks = tuple(
            MaskObject.from_payload(item)
            for item in _as_list(res.get("rle_mask_list"))
            if isinstance(item, Mapping)
        )
        return cls(
            session_id=_require_str(data, "session_id"),
            status=_as_int(data.get("status")) or 0,
            frame_index=_as_int(res.get("frame_index")),
            masks=masks,
            final_unit_deduction=_as_float(data.get("final_unit_deduction")),
        )


@dataclass(frozen=True)
class PreviewResult:
    """URLs from preview-selection: overlay video, its cover image, per-frame tracking data."""

    session_id: str | None
    video: str | None
    video_cover: str | None
    tracking_output: str | None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> PreviewResult:
        res = _as_dict(data.get("res"))
        return cls(
            session_id=_as_str(data.get("session_id")),
            video=_as_str(res.get("video")),
            video_cover=_as_str(res.get("video_cover")),
            tracking_output=_as_str(res.get("tracking_output")),
        )


class TaskStatus(StrEnum):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)

    @classmethod
    def parse(cls, value: Any) -> TaskStatus:
        """Accept legacy ``succeed`` and new-standard ``succeeded`` alike.

        An unknown status is read as PROCESSING: the poller keeps waiting (bounded by its own
        overall time limit) instead of declaring a result that Kling never reported.
        """
        text = (_as_str(value) or "").strip().lower()
        if text in ("succeed", "succeeded", "success", "successful"):
            return cls.SUCCEEDED
        if text in ("failed", "fail", "failure", "error"):
            return cls.FAILED
        if text in ("submitted", "queued", "pending"):
            return cls.SUBMITTED
        return cls.PROCESSING


@dataclass(frozen=True)
class TaskVideo:
    id: str | None
    url: str | None
    watermark_url: str | None
    duration: float | None
    session_id: str | None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> TaskVideo:
        return cls(
            id=_as_str(data.get("id")),
            url=_as_str(data.get("url")),
            watermark_url=_as_str(data.get("watermark_url")),
            duration=_as_float(data.get("duration")),
            session_id=_as_str(data.get("session_id")),
        )


@dataclass(frozen=True)
class Task:
    """A multi-elements or multi-image2video task. Timestamps are Unix milliseconds."""

    task_id: str
    status: TaskStatus
    status_msg: str | None
    external_task_id: str | None
    videos: tuple[TaskVideo, ...]
    final_unit_deduction: float | None
    created_at: int | None
    updated_at: int | None
    session_id: str | None = None
    final_balance_deduction: BalanceDeduction | None = None
    watermark_enabled: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Task:
        info = _as_dict(data.get("task_info"))
        result = _as_dict(data.get("task_result"))
        watermark = _as_dict(data.get("watermark_info"))
        enabled = watermark.get("enabled")
        return cls(
            task_id=_require_str(data, "task_id"),
            status=TaskStatus.parse(data.get("task_status")),
            status_msg=_as_str(data.get("task_status_msg")),
            external_task_id=_as_str(info.get("external_task_id"))
            or _as_str(data.get("external_task_id")),
            videos=tuple(
                TaskVideo.from_payload(item)
                for item in _as_list(result.get("videos"))
                if isinstance(item, Mapping)
            ),
            final_unit_deduction=_as_float(data.get("final_unit_deduction")),
            created_at=_as_int(data.get("created_at")),
            updated_at=_as_int(data.get("updated_at")),
            session_id=_as_str(data.get("session_id")),
            final_balance_deduction=BalanceDeduction.from_payload(
                data.get("final_balance_deduction")
            ),
            watermark_enabled=enabled if isinstance(enabled, bool) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class TaskPage:
    """One page of a task list (``data`` is a bare array in the docs)."""

    tasks: tuple[Task, ...]
    page_num: int
    page_size: int

    @classmethod
    def from_payload(cls, data: Any, *, page_num: int, page_size: int) -> TaskPage:
        items = data if isinstance(data, list) else _as_list(_as_dict(data).get("tasks"))
        tasks = tuple(Task.from_payload(item) for item in items if isinstance(item, Mapping))
        return cls(tasks=tasks, page_num=page_num, page_size=page_size)
