"""Reference images for Kling: check, convert and shrink what users upload.

Kling takes JPG/JPEG/PNG, at most 10 MB, each side at least 300 px, aspect 1:2.5 to 2.5:1, sent
as raw base64. Images that already qualify are passed through byte for byte; others are
converted (first frame of animations, EXIF rotation applied, CMYK/16-bit/palette made 8-bit RGB,
transparency kept in PNG) and downscaled until they fit. What cannot be fixed raises MediaError.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.i18n import Msg
from bot.media.errors import MediaError

MAX_BYTES = 10_000_000
MIN_SIDE = 300
MAX_ASPECT = 2.5
# Longer sides add upload time and nothing Kling can use.
MAX_SIDE = 4096
# Refuse before decoding anything larger: a small file can claim a huge canvas.
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 92
_EXIF_ORIENTATION = 0x0112
# Only formats Pillow decodes itself; never hand user bytes to external tools (EPS etc.).
_READABLE_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF", "AVIF", "HEIF")
_PASS_THROUGH: dict[str, Literal["jpeg", "png"]] = {"JPEG": "jpeg", "PNG": "png"}
_PASS_THROUGH_MODES = frozenset({"RGB", "L", "RGBA"})
_LOSSY_SOURCES = frozenset({"JPEG", "MPO", "WEBP", "AVIF", "HEIF"})


@dataclass(frozen=True)
class ReferenceImage:
    """An image ready for Kling: `data` is JPEG or PNG bytes; `changes` say what we did."""

    data: bytes
    format: Literal["jpeg", "png"]
    width: int
    height: int
    changes: list[Msg] = field(default_factory=list)


def to_base64(ref: ReferenceImage) -> str:
    """Raw base64 of the image, without a data: prefix (Kling refuses the prefix)."""
    return base64.b64encode(ref.data).decode("ascii")


def _readable_formats() -> list[str]:
    # Until Image.init() runs, Image.OPEN holds only the few plugins Pillow preloads (no WEBP,
    # TIFF, AVIF...): the list must be read after it, or a fresh process refuses those formats.
    Image.init()
    return [name for name in _READABLE_FORMATS if name in Image.OPEN]


def _open(data: bytes) -> Image.Image:
    formats = _readable_formats()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(Msg("The image is far too large in pixels to process safely.")) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaError(
            Msg("The image cannot be read; send a JPG, PNG, WEBP, GIF, BMP or TIFF file.")
        ) from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise MediaError(
            Msg(
                "The image is {width}x{height} px, too many pixels to process safely"
                " (limit {limit} megapixels).",
                width=width,
                height=height,
                limit=MAX_PIXELS // 1_000_000,
            )
        )
    return image


def _check_shape(width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE:
        raise MediaError(
            Msg(
                "The image is {width}x{height} px; Kling needs at least {min} px on each side.",
                width=width,
                height=height,
                min=MIN_SIDE,
            )
        )
    aspect = max(width, height) / min(width, height)
    if aspect > MAX_ASPECT + 1e-9:
        shape = f"{aspect:.2f}:1" if width >= height else f"1:{aspect:.2f}"
        raise MediaError(
            Msg(
                "The image is {width}x{height} px ({shape}); Kling accepts aspect ratios"
                " from 1:2.5 to 2.5:1. Crop it and try again.",
                width=width,
                height=height,
                shape=shape,
            )
        )


def _eight_bit(image: Image.Image, changes: list[Msg]) -> Image.Image:
    """Any mode → RGB or RGBA, 8 bits per channel, keeping transparency."""
    mode = image.mode
    if mode in ("RGB", "RGBA"):
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        changes.append(Msg("Converted the 16-bit image to 8 bits per channel."))
        return Image.fromarray(gray).convert("RGB")
    if mode == "CMYK":
        changes.append(Msg("Converted CMYK colours to RGB."))
        return image.convert("RGB")
    has_alpha = mode in ("LA", "PA", "La") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode(image: Image.Image, fmt: Literal["jpeg", "png"]) -> bytes:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _scaled_to_fit(image: Image.Image, max_side: int) -> Image.Image:
    width, height = image.size
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def normalise_reference_image(data: bytes, *, filename: str | None = None) -> ReferenceImage:
    """Make `data` acceptable to Kling as a reference image, or raise MediaError saying why not.

    `filename` is used only to word messages.
    """
    label = f" {filename!r}" if filename else ""
    if not data:
        raise MediaError(Msg("The image{label} is empty (0 bytes).", label=label))
    image = _open(data)
    source_format = image.format or "?"
    changes: list[Msg] = []
    try:
        if getattr(image, "is_animated", False):
            image.seek(0)
            # An MPO (phone JPEG with a depth/preview picture) is not an animation to the user.
            if source_format != "MPO":
                changes.append(Msg("Used the first frame of the animated image."))
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        width, height = image.size
        # Orientations 5-8 swap the sides; word messages the way the user sees the image.
        _check_shape(*((height, width) if orientation in (5, 6, 7, 8) else (width, height)))
        passes_as_is = (
            source_format in _PASS_THROUGH
            and image.mode in _PASS_THROUGH_MODES
            and orientation in (1, None)
            and len(data) <= MAX_BYTES
            and max(image.size) <= MAX_SIDE
            and not changes
        )
        if passes_as_is:
            image.load()
            return ReferenceImage(data, _PASS_THROUGH[source_format], width, height, [])
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            frame = image.copy() if image.mode != "P" else image.convert("RGBA")
    except MediaError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise MediaError(
            Msg("The image{label} is damaged and cannot be read.", label=label)
        ) from exc
    finally:
        image.close()

    if orientation not in (1, None):
        frame = ImageOps.exif_transpose(frame)
        changes.append(Msg("Turned the image upright using its EXIF orientation."))
    if frame.mode == "RGBA" and frame.getchannel("A").getextrema()[0] == 255:
        frame = frame.convert("RGB")  # a palette image whose alpha is fully opaque
    frame = _eight_bit(frame, changes)
    return _finish(frame, source_format, changes)


def _finish(frame: Image.Image, source_format: str, changes: list[Msg]) -> ReferenceImage:
    fmt: Literal["jpeg", "png"] = (
        "png" if frame.mode == "RGBA" or source_format not in _LOSSY_SOURCES else "jpeg"
    )
    original = frame.size
    if max(frame.size) > MAX_SIDE:
        frame = _scaled_to_fit(frame, MAX_SIDE)
    encoded = _encode(frame, fmt)
    if len(encoded) > MAX_BYTES and fmt == "png" and frame.mode == "RGB":
        fmt, encoded = "jpeg", _encode(frame, "jpeg")
    while len(encoded) > MAX_BYTES:
        next_side = int(max(frame.size) * 0.8)
        if min(frame.size) * 0.8 < MIN_SIDE:
            raise MediaError(
                Msg("The image cannot be brought under 10 MB without going below 300 px a side.")
            )
        frame = _scaled_to_fit(frame, next_side)
        encoded = _encode(frame, fmt)
    if source_format not in _PASS_THROUGH:
        changes.append(
            Msg("Converted from {source} to {target}.", source=source_format, target=fmt.upper())
        )
    if frame.size != original:
        changes.append(
            Msg(
                "Downscaled from {width}x{height} to {new_width}x{new_height} px.",
                width=original[0],
                height=original[1],
                new_width=frame.size[0],
                new_height=frame.size[1],
            )
        )
    return ReferenceImage(encoded, fmt, frame.size[0], frame.size[1], changes)
