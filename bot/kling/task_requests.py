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
from typing import Any

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


def _optional_fields(
    *,
    negative_prompt: str | None,
    watermark_enabled: bool | None,
    callback_url: str | None,
    external_task_id: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if negative_prompt:
        body["negative_prompt"] = negative_prompt
    if watermark_enabled is not None:
        body["watermark_info"] = {"enabled": watermark_enabled}
    if callback_url:
        body["callback_url"] = callback_url
    if external_task_id:
        body["external_task_id"] = external_task_id
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
        _check_prompt("prompt", self.prompt, required=True)
        _check_prompt("negative_prompt", self.negative_prompt, required=False)
        _check_mode(self.mode)

    def with_external_task_id(self, external_task_id: str) -> CreateEditTask:
        return dataclasses.replace(self, external_task_id=external_task_id)

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.model_name:
            body["model_name"] = self.model_name
        body["session_id"] = self.session_id
        body["edit_mode"] = str(self.edit_mode)
        if self.images:
            body["image_list"] = [{"image": image} for image in self.images]
        body["prompt"] = self.prompt
        body["mode"] = self.mode
        body["duration"] = str(self.duration)
        body.update(
            _optional_fields(
                negative_prompt=self.negative_prompt,
                watermark_enabled=self.watermark_enabled,
                callback_url=self.callback_url,
                external_task_id=self.external_task_id,
            )
        )
        return body


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
        _check_prompt("prompt", self.prompt, required=True)
        _check_prompt("negative_prompt", self.negative_prompt, required=False)
        _check_mode(self.mode)
        if self.aspect_ratio not in ASPECT_RATIOS:
            raise ValueError(f"aspect_ratio must be one of {ASPECT_RATIOS}")

    def with_external_task_id(self, external_task_id: str) -> CreateMultiImageTask:
        return dataclasses.replace(self, external_task_id=external_task_id)

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.model_name:
            body["model_name"] = self.model_name
        body["image_list"] = [{"image": image} for image in self.images]
        body["prompt"] = self.prompt
        body["mode"] = self.mode
        body["duration"] = str(self.duration)
        body["aspect_ratio"] = self.aspect_ratio
        body.update(
            _optional_fields(
                negative_prompt=self.negative_prompt,
                watermark_enabled=self.watermark_enabled,
                callback_url=self.callback_url,
                external_task_id=self.external_task_id,
            )
        )
        return body
