"""Pictures encoded through a scratch file: the same bytes Pillow writes into memory."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from bot.render.encoding import encode_image


def picture() -> Image.Image:
    rng = np.random.default_rng(9)
    pixels = np.full((360, 640, 3), (40, 60, 110), np.uint8)
    pixels[100:250, 200:400] = (50, 190, 70)
    pixels = np.clip(pixels + rng.integers(0, 12, pixels.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def in_memory(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


CASES = [
    ("JPEG", {"quality": 90, "subsampling": 0, "optimize": False}),
    ("PNG", {"compress_level": 1}),
    ("WEBP", {"quality": 85, "method": 0}),
]


@pytest.mark.parametrize(("image_format", "options"), CASES)
def test_the_bytes_are_pillows(image_format: str, options: dict[str, object]) -> None:
    image = picture()
    encoded = encode_image(image, image_format, **options)
    assert encoded == in_memory(image, image_format, **options)
    with Image.open(io.BytesIO(encoded)) as back:
        assert back.format == image_format and back.size == image.size


def test_without_memfd_a_temporary_file_gives_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(name: str, flags: int = 0) -> int:
        raise OSError("memfd_create is not allowed here")

    monkeypatch.setattr(os, "memfd_create", refused, raising=False)
    image = picture()
    assert encode_image(image, "JPEG", quality=90) == in_memory(image, "JPEG", quality=90)
    monkeypatch.delattr(os, "memfd_create")
    assert encode_image(image, "PNG") == in_memory(image, "PNG")


def test_a_format_pillow_cannot_write_is_refused() -> None:
    with pytest.raises((KeyError, ValueError, OSError)):
        encode_image(picture(), "NOT-A-FORMAT")
