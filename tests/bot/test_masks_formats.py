"""Mask codecs at their edges: PNG pixel formats Kling might send, size limits, and the exact
error for each kind of broken mask."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from bot.masks import (
    MAX_MASK_PIXELS,
    MaskDecodeError,
    decode_png_mask,
    decode_rle,
    decode_rle_scaled,
    encode_rle,
    rle_size,
)

# Selected pixels of the test images: a 3x2 block and one corner pixel.
SELECTED = np.zeros((6, 8), np.uint8)
SELECTED[1:3, 2:5] = 1
SELECTED[5, 7] = 1


def png_payload(image: Image.Image) -> dict[str, object]:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"base64": base64.b64encode(buffer.getvalue()).decode()}


def decoded(image: Image.Image) -> np.ndarray:
    mask = decode_png_mask(png_payload(image))
    assert mask.dtype == np.uint8
    return mask


def test_palette_png_whose_first_colour_is_the_selection() -> None:
    # Index 0 is red (selected), index 1 black (background): the colours decide, not the indices.
    image = Image.fromarray(np.where(SELECTED == 1, 0, 1).astype(np.uint8), mode="P")
    image.putpalette([255, 0, 0, 0, 0, 0] + [0, 0, 0] * 254)
    assert np.array_equal(decoded(image), SELECTED)


def test_palette_png_with_a_transparent_background() -> None:
    image = Image.fromarray(np.where(SELECTED == 1, 1, 0).astype(np.uint8), mode="P")
    image.putpalette([9, 9, 9, 200, 200, 200] + [0, 0, 0] * 254)
    image.info["transparency"] = 0  # every colour is non-black: only alpha tells them apart
    assert np.array_equal(decoded(image), SELECTED)


def test_rgba_with_faint_alpha_is_selected() -> None:
    alpha = np.where(SELECTED == 1, 1, 0).astype(np.uint8)  # alpha 1 of 255 still counts
    rgba = np.dstack([np.full_like(alpha, 255)] * 3 + [alpha])
    assert np.array_equal(decoded(Image.fromarray(rgba, mode="RGBA")), SELECTED)


def test_opaque_rgba_with_a_dim_blue_selection() -> None:
    # Pure blue of value 1 has no luminance: reading it as grey would lose it.
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[..., 2] = SELECTED
    assert np.array_equal(decoded(Image.fromarray(rgba, mode="RGBA")), SELECTED)


def test_opaque_grey_with_alpha() -> None:
    la = np.dstack([SELECTED * 255, np.full_like(SELECTED, 255)])
    assert np.array_equal(decoded(Image.fromarray(la, mode="LA")), SELECTED)


def test_png_base64_with_stray_characters_is_refused() -> None:
    payload = png_payload(Image.fromarray(SELECTED * 255, mode="L"))
    text = str(payload["base64"])
    with pytest.raises(MaskDecodeError, match="PNG mask is not valid base64"):
        decode_png_mask({"base64": text[:8] + "*" + text[8:]})


def test_png_larger_than_the_pixel_limit_is_refused_before_decoding() -> None:
    side = 8193  # 8193 x 8193 is just over 8192 x 8192
    image = Image.new("1", (side, side))
    with pytest.raises(MaskDecodeError) as info:
        decode_png_mask(png_payload(image))
    assert str(info.value) == f"PNG mask {side}x{side} is larger than the pixel limit"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("nope", "PNG mask must be a mapping with a 'base64' field"),
        ({"size": [1, 1]}, "PNG mask must be a mapping with a 'base64' field"),
        ({"base64": 42}, "PNG mask base64 must be a string, got int"),
    ],
)
def test_png_mask_error_sentences(payload: object, message: str) -> None:
    with pytest.raises(MaskDecodeError) as info:
        decode_png_mask(payload)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_rle_size_limit_is_inclusive() -> None:
    assert rle_size({"size": [8192, 8192]}) == (8192, 8192)
    assert MAX_MASK_PIXELS == 8192 * 8192
    with pytest.raises(MaskDecodeError) as info:
        rle_size({"size": [8192, 8193]})
    assert str(info.value) == (
        f"RLE size 8192x8193 is larger than the {MAX_MASK_PIXELS} pixel limit"
    )


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ([2, 3], "RLE mask must be a mapping with 'size' and 'counts', got list"),
        ({"counts": "6"}, "RLE mask has no 'size' (expected [height, width])"),
        ({"size": [2, 3]}, "RLE mask has no 'counts'"),
        ({"size": [2, "3"], "counts": "6"}, "RLE size width must be an integer, got '3'"),
        ({"size": [2, -3], "counts": "6"}, "RLE size width must not be negative, got -3"),
        ({"size": [2, 3], "counts": ""}, "RLE counts string is empty"),
        ({"size": [2, 3], "counts": 6}, "RLE counts must be a string, got int"),
        ({"size": [2, 3], "counts": [[1, 5]]},
         "uncompressed RLE counts must be a flat list of integers"),
        ({"size": [2, 3], "counts": [1.0, 5.0]},
         "uncompressed RLE counts must be a flat list of integers"),
        ({"size": [2, 3], "counts": [0, 3, -1, 4]},
         "RLE counts decode to a negative run (-1) at run 2"),
        ({"size": [2, 3], "counts": "23P"},
         "RLE counts end in the middle of a value (truncated string?)"),
        ({"size": [2, 3], "counts": "23p"},
         "RLE counts contain invalid character 'p' at position 2 (allowed: '0' to 'o')"),
        ({"size": [2, 3], "counts": "o" * 12 + "0"},
         "RLE counts contain a value too large to be a run length"),
    ],
)
def test_rle_error_sentences(rle: object, message: str) -> None:
    with pytest.raises(MaskDecodeError) as info:
        decode_rle(rle)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_scaled_decode_of_an_empty_mask() -> None:
    for h, w in ((0, 5), (5, 0), (0, 0)):
        scaled = decode_rle_scaled({"size": [h, w], "counts": [0]}, 4, 3)
        assert scaled.shape == (3, 4) and scaled.dtype == np.uint8 and not scaled.any()
    mask = encode_rle(SELECTED)
    for out_w, out_h in ((4, 0), (0, 3), (4, -1)):
        with pytest.raises(MaskDecodeError) as info:
            decode_rle_scaled(mask, out_w, out_h)
        assert str(info.value) == f"output size must be positive, got {out_w}x{out_h}"


def test_encode_refuses_a_mask_that_is_not_2d() -> None:
    with pytest.raises(ValueError) as info:
        encode_rle(np.zeros((2, 2, 2), np.uint8))
    assert str(info.value) == "mask must be 2-D (h, w), got shape (2, 2, 2)"
