"""The mask codec at its edges: size limits, empty masks and the exact error for each kind of
broken mask."""

from __future__ import annotations

import numpy as np
import pytest

from bot.masks import (
    MAX_MASK_PIXELS,
    MaskDecodeError,
    decode_rle,
    decode_rle_scaled,
    encode_rle,
    rle_size,
)

# Selected pixels of the test masks: a 3x2 block and one corner pixel.
SELECTED = np.zeros((6, 8), np.uint8)
SELECTED[1:3, 2:5] = 1
SELECTED[5, 7] = 1


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
        (
            {"size": [2, 3], "counts": [[1, 5]]},
            "uncompressed RLE counts must be a flat list of integers",
        ),
        (
            {"size": [2, 3], "counts": [1.0, 5.0]},
            "uncompressed RLE counts must be a flat list of integers",
        ),
        (
            {"size": [2, 3], "counts": [0, 3, -1, 4]},
            "RLE counts decode to a negative run (-1) at run 2",
        ),
        (
            {"size": [2, 3], "counts": "23P"},
            "RLE counts end in the middle of a value (truncated string?)",
        ),
        (
            {"size": [2, 3], "counts": "23p"},
            "RLE counts contain invalid character 'p' at position 2 (allowed: '0' to 'o')",
        ),
        (
            {"size": [2, 3], "counts": "o" * 12 + "0"},
            "RLE counts contain a value too large to be a run length",
        ),
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
