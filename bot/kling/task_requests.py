"""Request bodies for the two task-creation endpoints (reference §2.7 and §6).

Both validate what the docs state as hard rules at construction time (``ValueError``), so a bad
request never costs a round trip. Optional fields are omitted from the JSON unless set, which keeps
the bodies valid for both the official API and CometAPI (which asks to omit an empty image_list).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

MODEL_NAME = "kling-v1-6"
MAX_PROMPT_CHARS = 2500
MODES = ("std", "pro")
ASPECT_RATIOS = ("16:9", "9:16", "1:1")


class EditMode(StrEnum):
    ADDITION = "addition"
    SWAP = "swap"
    REMOVAL = "removal"


# edit_mode -> (min images, max images)
_IMAGE_COUNTS = {EditMode.ADDITION: (1, 2), EditMode.SWAP: (1, 1), EditMode.REMOVAL: (0, 0)}


def _duration_text(value: int | str) -> str:
    text = str(value).strip()
    if text not in ("5", "10"):
        raise ValueError(f"duration must be 5 or 10 seconds, not {value!r}")
    return text


def _check_prompt(name: str, text: str | None, *, required: bool) -> None:
    if required and not (text and text.strip()):
        raise ValueError(f"{name} must not be empty")
    if text is not None and len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"{name} is {len(text)} characters; Kling allows {MAX_PROMPT_CHARS}")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")


def _check_texts_and_mode(task: _TaskFields) -> None:
    _check_prompt("prompt", task.prompt, required=True)
    _check_prompt("negative_prompt", task.negative_prompt, required=False)
    _check_mode(task.mode)


class _TaskFields(Protocol):
    """What both task requests have, read-only (the requests are frozen dataclasses)."""

    @property
    def prompt(self) -> str: ...
    @property
    def negative_prompt(self) -> str | None: ...
    @property
    def mode(self) -> str: ...
    @property
    def duration(self) -> int | str: ...
    @property
    def external_task_id(self) -> str | None: ...
    @property
    def callback_url(self) -> str | None: ...
    @property
    def watermark_enabled(self) -> bool | None: ...
    @property
    def model_name(self) -> str | None: ...


def _body(
    task: _TaskFields, own: dict[str, Any], own_after: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The model, the endpoint's ``own`` fields, the prompt and its settings, ``own_after``,
    then the optional fields that are set (in the order of Kling's reference)."""
    body: dict[str, Any] = {}
    if task.model_name:
        body["model_name"] = task.model_name
    body.update(own)
    body["prompt"] = task.prompt
    body["mode"] = task.mode
    body["duration"] = str(task.duration)
    body.update(own_after or {})
    if task.negative_prompt:
        body["negative_prompt"] = task.negative_prompt
    if task.watermark_enabled is not None:
        body["watermark_info"] = {"enabled": task.watermark_enabled}
    if task.callback_url:
        body["callback_url"] = task.callback_url
    if task.external_task_id:
        body["external_task_id"] = task.external_task_id
    return body


@dataclass(frozen=True)
class CreateEditTask:
    """``POST /v1/videos/multi-elements``.

    ``images`` are URLs or raw base64 (no ``data:`` prefix): addition takes 1-2, swap exactly 1,
    removal none. The prompt should reference ``<<<video_1>>>`` and ``<<<image_N>>>``.
    """

    session_id: str
    edit_mode: EditMode | str
    prompt: str
    images: Sequence[str] = ()
    negative_prompt: str | None = None
    mode: str = "std"
    duration: int | str = "5"
    external_task_id: str | None = None
    callback_url: str | None = None
    watermark_enabled: bool | None = None
    model_name: str | None = MODEL_NAME

    def __post_init__(self) -> None:
        if not self.session_id:
            raise ValueError("session_id must not be empty")
        try:
            edit_mode = EditMode(self.edit_mode)
        except ValueError:
            allowed = [mode.value for mode in EditMode]
            raise ValueError(f"edit_mode must be one of {allowed}") from None
        object.__setattr__(self, "edit_mode", edit_mode)
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "duration", _duration_text(self.duration))
        low, high = _IMAGE_COUNTS[edit_mode]
        if not low <= len(self.images) <= high:
            raise ValueError(
                f"{edit_mode.value} takes {low}-{high} reference images, got {len(self.images)}"
            )
        _check_texts_and_mode(self)

    def with_external_task_id(self, external_task_id: str) -> CreateEditTask:
        return dataclasses.replace(self, external_task_id=external_task_id)

    def to_body(self) -> dict[str, Any]:
        own: dict[str, Any] = {"session_id": self.session_id, "edit_mode": str(self.edit_mode)}
        if self.images:
            own["image_list"] = [{"image": image} for image in self.images]
        return _body(self, own)


@dataclass(frozen=True)
class CreateMultiImageTask:
    """``POST /v1/videos/multi-image2video``: 1-4 subject images (URL or raw base64)."""

    images: Sequence[str]
    prompt: str
    negative_prompt: str | None = None
    mode: str = "std"
    duration: int | str = "5"
    aspect_ratio: str = "16:9"
    external_task_id: str | None = None
    callback_url: str | None = None
    watermark_enabled: bool | None = None
    model_name: str | None = MODEL_NAME

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "duration", _duration_text(self.duration))
        if not 1 <= len(self.images) <= 4:
            raise ValueError(f"multi-image2video takes 1-4 images, got {len(self.images)}")
        _check_texts_and_mode(self)
        if self.aspect_ratio not in ASPECT_RATIOS:
            raise ValueError(f"aspect_ratio must be one of {ASPECT_RATIOS}")

    def with_external_task_id(self, external_task_id: str) -> CreateMultiImageTask:
        return dataclasses.replace(self, external_task_id=external_task_id)

    def to_body(self) -> dict[str, Any]:
        own = {"image_list": [{"image": image} for image in self.images]}
        return _body(self, own, {"aspect_ratio": self.aspect_ratio})
