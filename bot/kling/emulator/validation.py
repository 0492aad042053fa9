"""Request checks with Kling's codes: 1200 for an unreadable body, 1201 naming the bad field."""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from typing import Any

from PIL import Image

from bot.kling.emulator.envelope import KlingApiError, invalid
from bot.media.rules import duration_window

MAX_PROMPT_CHARS = 2500
MAX_MARKED_FRAMES = 10
MAX_POINTS_PER_FRAME = 10
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_IMAGE_SIDE = 300
MAX_IMAGE_ASPECT = 2.5
MODEL_NAMES = ("kling-v1-6",)
MODES = ("std", "pro")
DURATIONS = ("5", "10")
EDIT_MODES = ("addition", "swap", "removal")
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
MAX_MULTI_IMAGES = 4
# (min, max) reference images per edit mode.
IMAGES_PER_EDIT_MODE = {"addition": (1, 2), "swap": (1, 1), "removal": (0, 0)}
# Accepted input length (seconds) per requested output duration.
DURATION_WINDOWS = {"5": (2.0, 5.0), "10": (7.0, 10.0)}
_IMAGE_REF = re.compile(r"<<<image_(\d+)>>>")
_VIDEO_REF = "<<<video_1>>>"


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise KlingApiError(1200, "request body must be a JSON object")
    return body


def optional_str(body: dict[str, Any], name: str, *, max_chars: int | None = None) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string")
    if max_chars is not None and len(value) > max_chars:
        raise invalid(f"{name} must be at most {max_chars} characters, got {len(value)}")
    return value


def required_str(body: dict[str, Any], name: str, *, max_chars: int | None = None) -> str:
    value = optional_str(body, name, max_chars=max_chars)
    if value is None:
        raise invalid(f"{name} is required")
    return value


def choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = body.get(name)
    if value is None or value == "":
        if default is None:
            raise invalid(f"{name} is required")
        return default
    if not isinstance(value, str) or value not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def frame_index(body: dict[str, Any], total_frame: int) -> int:
    value = body.get("frame_index")
    if value is None:
        raise invalid("frame_index is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"frame_index must be an integer, got {value!r}")
    if not 0 <= value < total_frame:
        raise invalid(f"frame_index must be in 0..{total_frame - 1}, got {value}")
    return value


def points(body: dict[str, Any]) -> list[tuple[float, float]]:
    raw = body.get("points")
    if not isinstance(raw, list) or not raw:
        raise invalid("points must be a non-empty list of {x, y}")
    if len(raw) > MAX_POINTS_PER_FRAME:
        raise invalid(f"points: at most {MAX_POINTS_PER_FRAME} points per frame, got {len(raw)}")
    parsed = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise invalid(f"points[{i}] must be an object with x and y")
        coords = []
        for axis in ("x", "y"):
            value = item.get(axis)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise invalid(f"points[{i}].{axis} must be a number")
            if not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise invalid(f"points[{i}].{axis} must be in [0, 1], got {value}")
            coords.append(float(value))
        parsed.append((coords[0], coords[1]))
    return parsed


def page_params(query: dict[str, str]) -> tuple[int, int]:
    def number(name: str, default: int, low: int, high: int) -> int:
        raw = query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(f"{name} must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise invalid(f"{name} must be in {low}..{high}, got {value}")
        return value

    return number("pageNum", 1, 1, 1000), number("pageSize", 30, 1, 500)


def image_list(body: dict[str, Any], low: int, high: int, *, what: str) -> list[str]:
    """The `image` strings of image_list, checking the count for `what` (e.g. 'swap')."""
    raw = body.get("image_list")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise invalid("image_list must be a list of {image}")
    if not low <= len(raw) <= high:
        wanted = str(low) if low == high else f"{low}-{high}"
        raise invalid(f"image_list must hold {wanted} images for {what}, got {len(raw)}")
    values = []
    for i, item in enumerate(raw):
        value = item.get("image") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value:
            raise invalid(f"image_list[{i}].image must be a URL or raw base64 string")
        values.append(value)
    return values


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def decode_base64_image(value: str, field: str) -> bytes:
    if value.startswith("data:"):
        raise invalid(f"{field} must be raw base64 without a data: prefix")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{field} is neither a URL nor valid base64") from None


def check_image_bytes(data: bytes, field: str) -> Image.Image:
    """Kling's reference-image rules: jpg/png, at most 10 MB, sides >= 300 px, aspect <= 2.5."""
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid(f"{field} is {len(data)} bytes; images must be at most 10 MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
            if fmt not in ("JPEG", "PNG"):
                raise invalid(f"{field} must be a jpg or png image, got {fmt or 'unknown'}")
            if min(width, height) < MIN_IMAGE_SIDE:
                raise invalid(
                    f"{field} is {width}x{height}; width and height must be at least "
                    f"{MIN_IMAGE_SIDE} px"
                )
            if max(width, height) / min(width, height) > MAX_IMAGE_ASPECT:
                raise invalid(
                    f"{field} is {width}x{height}; aspect ratio must be between 1:2.5 and 2.5:1"
                )
            probe.load()
            return probe.convert("RGBA")
    except KlingApiError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise invalid(f"{field} could not be read as an image") from None


def check_prompt_refs(prompt: str, image_count: int) -> None:
    if _VIDEO_REF not in prompt:
        raise invalid(f"prompt must reference the video as {_VIDEO_REF}")
    for match in _IMAGE_REF.finditer(prompt):
        number = int(match.group(1))
        if not 1 <= number <= image_count:
            raise invalid(f"prompt references {match.group(0)} but image_list has {image_count}")


def check_duration_fits(duration: str, video_seconds: float) -> None:
    low, high = DURATION_WINDOWS[duration]
    # Same edge tolerance as the video check at init, so a clip that opened a session fits.
    if duration_window(video_seconds) != (low, high):
        raise invalid(
            f'duration "{duration}" needs a {low:g}-{high:g} s video; this one is '
            f"{video_seconds:.2f} s"
        )


def external_task_id(body: dict[str, Any]) -> str | None:
    return optional_str(body, "external_task_id", max_chars=256)


def callback_url(body: dict[str, Any]) -> str | None:
    value = optional_str(body, "callback_url", max_chars=2048)
    if value is not None and not is_url(value):
        raise invalid("callback_url must be an http(s) URL")
    return value
