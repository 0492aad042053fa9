"""Reference images: pass-through, each conversion, EXIF rotation, refusals and bombs."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bot.media import MediaError, ReferenceImage, normalise_reference_image, to_base64
from bot.media.images import MAX_BYTES, MAX_SIDE


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def split_image(width: int = 600, height: int = 400, mode: str = "RGB") -> Image.Image:
    """Red left half, blue right half: easy to check orientation and colour after conversion."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 255)
    return Image.fromarray(pixels).convert(mode)


def opened(ref: ReferenceImage) -> Image.Image:
    image = Image.open(io.BytesIO(ref.data))
    assert image.format == ref.format.upper()
    assert image.size == (ref.width, ref.height)
    return image


@pytest.mark.parametrize(("fmt", "kind"), [("JPEG", "jpeg"), ("PNG", "png")])
def test_acceptable_image_passes_unchanged(fmt: str, kind: str) -> None:
    data = encoded(split_image(), fmt)
    ref = normalise_reference_image(data, filename="ok")
    assert ref.data == data
    assert (ref.format, ref.width, ref.height, ref.changes) == (kind, 600, 400, [])


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("WEBP", "jpeg"), ("BMP", "png"), ("TIFF", "png")],
)
def test_other_formats_are_converted(fmt: str, expected: str) -> None:
    ref = normalise_reference_image(
        encoded(split_image(), fmt, **({"quality": 95} if fmt == "WEBP" else {}))
    )
    image = opened(ref).convert("RGB")
    assert ref.format == expected
    assert f"Converted from {fmt} to {expected.upper()}." in ref.changes
    assert image.getpixel((100, 200))[0] > 230
    assert image.getpixel((500, 200))[2] > 230


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (400, 400), colour) for colour in ("green", "red", "blue")]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    ref = normalise_reference_image(data, filename="anim.gif")
    assert ref.format == "png"
    assert "Used the first frame of the animated image." in ref.changes
    r, g, b = opened(ref).convert("RGB").getpixel((200, 200))
    assert g > 100 and r < 30 and b < 30


def test_exif_rotation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90° clockwise to view
    data = encoded(split_image(600, 400), "JPEG", exif=exif, quality=95)
    ref = normalise_reference_image(data)
    assert (ref.format, ref.width, ref.height) == ("jpeg", 400, 600)
    assert "Turned the image upright using its EXIF orientation." in ref.changes
    image = opened(ref).convert("RGB")
    # The red left half ends up on top after a clockwise quarter turn.
    assert image.getpixel((200, 100))[0] > 200
    assert image.getpixel((200, 500))[2] > 200
    assert image.getexif().get(0x0112, 1) == 1


def test_cmyk_jpeg_becomes_rgb() -> None:
    ref = normalise_reference_image(encoded(split_image(mode="CMYK"), "JPEG", quality=95))
    image = opened(ref)
    assert image.mode == "RGB"
    assert "Converted CMYK colours to RGB." in ref.changes
    assert image.getpixel((100, 200))[0] > 200


def test_sixteen_bit_png_is_scaled_to_eight_bits() -> None:
    levels = np.zeros((400, 400), np.uint16)
    levels[:, 200:] = 65535
    levels[:200, :200] = 32768
    ref = normalise_reference_image(encoded(Image.fromarray(levels), "PNG"))
    image = opened(ref)
    assert image.mode == "RGB"
    assert "Converted the 16-bit image to 8 bits per channel." in ref.changes
    assert image.getpixel((300, 300)) == (255, 255, 255)
    assert image.getpixel((100, 100)) == (128, 128, 128)
    assert image.getpixel((100, 300)) == (0, 0, 0)


def test_palette_png_keeps_transparency() -> None:
    image = Image.new("P", (400, 400), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (0, 0, 200, 400))
    data = encoded(image, "PNG", transparency=0)
    ref = normalise_reference_image(data)
    out = opened(ref)
    assert ref.format == "png" and out.mode == "RGBA"
    assert out.getpixel((100, 100)) == (0, 255, 0, 255)
    assert out.getpixel((300, 100))[3] == 0


def test_transparent_png_passes_unchanged() -> None:
    rgba = split_image().convert("RGBA")
    data = encoded(rgba, "PNG")
    assert normalise_reference_image(data).data == data


def test_large_image_is_downscaled() -> None:
    gradient = np.linspace(0, 255, 5000, dtype=np.uint8)[None, :, None].repeat(3000, 0)
    data = encoded(Image.fromarray(gradient.repeat(3, 2)), "JPEG", quality=80)
    ref = normalise_reference_image(data)
    assert (ref.width, ref.height) == (MAX_SIDE, round(3000 * MAX_SIDE / 5000))
    assert f"Downscaled from 5000x3000 to {ref.width}x{ref.height} px." in ref.changes


def test_image_over_ten_megabytes_is_brought_under() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (1900, 2400, 3), dtype=np.uint8)
    data = encoded(Image.fromarray(noise), "PNG", compress_level=1)
    assert len(data) > MAX_BYTES
    ref = normalise_reference_image(data)
    assert len(ref.data) <= MAX_BYTES
    assert min(ref.width, ref.height) >= 300
    opened(ref)


def test_too_small_image_is_refused() -> None:
    with pytest.raises(MediaError) as caught:
        normalise_reference_image(encoded(split_image(200, 150), "PNG"))
    assert str(caught.value) == "The image is 200x150 px; Kling needs at least 300 px on each side."


@pytest.mark.parametrize(("size", "shape"), [((1000, 300), "3.33:1"), ((300, 1000), "1:3.33")])
def test_extreme_aspect_is_refused(size: tuple[int, int], shape: str) -> None:
    with pytest.raises(MediaError) as caught:
        normalise_reference_image(encoded(split_image(*size), "JPEG"))
    assert str(caught.value).startswith(
        f"The image is {size[0]}x{size[1]} px ({shape}); Kling accepts aspect ratios "
        "from 1:2.5 to 2.5:1."
    )


def test_aspect_exactly_two_and_a_half_is_accepted() -> None:
    ref = normalise_reference_image(encoded(split_image(750, 300), "PNG"))
    assert (ref.width, ref.height) == (750, 300)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas (a decompression bomb's calling card)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [9_000, 15_000, 60_000])
def test_decompression_bomb_is_refused_before_decoding(side: int) -> None:
    with pytest.raises(MediaError, match=r"too large in pixels|too many pixels"):
        normalise_reference_image(png_claiming(side, side))


@pytest.mark.parametrize(
    "data",
    [
        b"<html>not an image</html>",
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 400 400\n",
        encoded(split_image(), "PNG")[:200],
    ],
)
def test_unreadable_data_is_refused(data: bytes) -> None:
    with pytest.raises(MediaError, match=r"cannot be read|damaged"):
        normalise_reference_image(data, filename="upload.png")


def test_empty_file_is_refused() -> None:
    with pytest.raises(MediaError, match=r"'x\.png' is empty"):
        normalise_reference_image(b"", filename="x.png")


def test_base64_is_raw() -> None:
    ref = normalise_reference_image(encoded(split_image(), "PNG"))
    text = to_base64(ref)
    assert not text.startswith("data:")
    assert base64.b64decode(text) == ref.data
