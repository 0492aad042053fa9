"""The RLE mask codec, checked against pycocotools (the C implementation Kling's format
comes from) on many random masks."""

from __future__ import annotations

import tracemalloc
from unittest import mock

import numpy as np
import pycocotools.mask as coco
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bot import masks as masks_module
from bot.masks import (
    MaskDecodeError,
    decode_rle,
    decode_rle_scaled,
    dilate,
    encode_rle,
)

# pycocotools 2.0.x predates numpy 2's __array__ copy keyword; the warning is theirs, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def coco_counts(mask: np.ndarray) -> str:
    return coco.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode("ascii")


@st.composite
def masks(draw: st.DrawFn, max_side: int = 48) -> np.ndarray:
    """Odd shapes (portrait, landscape, thin strips) and mixed content: noise, blocks, empty,
    full."""
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    kind = draw(st.sampled_from(["noise", "blocks", "empty", "full", "raw"]))
    if kind == "raw":
        return draw(hnp.arrays(np.uint8, (h, w), elements=st.integers(0, 1)))
    mask = np.zeros((h, w), dtype=np.uint8)
    if kind == "full":
        mask[:] = 1
    elif kind == "noise":
        seed = draw(st.integers(0, 2**32 - 1))
        density = draw(st.floats(0.0, 1.0))
        mask = (np.random.default_rng(seed).random((h, w)) < density).astype(np.uint8)
    elif kind == "blocks":
        for _ in range(draw(st.integers(1, 4))):
            top, left = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
            bottom, right = draw(st.integers(top, h)), draw(st.integers(left, w))
            mask[top:bottom, left:right] = 1
    return mask


@settings(max_examples=400, deadline=None)
@given(masks())
def test_encode_matches_pycocotools_and_round_trips(mask: np.ndarray) -> None:
    rle = encode_rle(mask)
    assert rle == {"size": [mask.shape[0], mask.shape[1]], "counts": coco_counts(mask)}
    decoded = decode_rle(rle)
    assert decoded.shape == mask.shape
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, mask)
    np.testing.assert_array_equal(
        decode_rle({"size": rle["size"], "counts": rle["counts"]}),
        coco.decode({"size": rle["size"], "counts": rle["counts"].encode()}),
    )


@pytest.mark.parametrize("shape", [(720, 1280), (1280, 720), (2160, 3840), (1, 5000), (5000, 1)])
def test_large_masks_with_long_runs_agree_with_pycocotools(shape: tuple[int, int]) -> None:
    h, w = shape
    yy, xx = np.ogrid[:h, :w]
    mask = ((xx - w * 0.4) / (w * 0.3)) ** 2 + ((yy - h * 0.5) / (h * 0.35)) ** 2 < 1
    mask = mask.astype(np.uint8)
    mask[: h // 10, : w // 10] = 1  # a run touching the first pixel
    counts = coco_counts(mask)
    assert encode_rle(mask)["counts"] == counts
    np.testing.assert_array_equal(decode_rle({"size": [h, w], "counts": counts}), mask)


def many_runs_mask(kind: str, h: int = 2160, w: int = 3840) -> np.ndarray:
    """A 4K mask with millions of runs: a checkerboard (a run per pixel, one character per run)
    or noise (runs of varied length, one or two characters each)."""
    if kind == "checkerboard":
        yy, xx = np.indices((h, w))
        return ((yy + xx) % 2).astype(np.uint8)
    return (np.random.default_rng(11).random((h, w)) < 0.5).astype(np.uint8)


@pytest.mark.parametrize("kind", ["checkerboard", "noise"])
def test_a_4k_mask_with_millions_of_runs_decodes_like_pycocotools_in_bounded_memory(
    kind: str,
) -> None:
    mask = many_runs_mask(kind)
    h, w = mask.shape
    coco_rle = coco.encode(np.asfortranarray(mask))
    rle = {"size": [h, w], "counts": coco_rle["counts"].decode("ascii")}
    assert len(rle["counts"]) > 4_000_000  # several slices of the parser
    tracemalloc.start()
    try:
        decoded = decode_rle(rle)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(decoded, coco.decode(coco_rle))
    # The runs (8 bytes each, at most one per pixel) plus the 1-byte mask, plus a slice's worth
    # of temporaries; decoding per character of the string took over 70 bytes per pixel.
    assert peak < 12 * h * w + 48 * masks_module._CHUNK_CHARS, f"{peak / 2**20:.0f} MiB"


@settings(max_examples=200, deadline=None)
@given(masks(), st.integers(1, 9))
def test_decoding_in_small_slices_gives_the_same_mask(mask: np.ndarray, chunk: int) -> None:
    """Slice boundaries fall inside and between multi-character values alike."""
    counts = coco_counts(mask)
    with mock.patch.object(masks_module, "_CHUNK_CHARS", chunk):
        if len(counts) > chunk and max(_value_lengths(counts)) > chunk:
            with pytest.raises(MaskDecodeError):
                decode_rle({"size": list(mask.shape), "counts": counts})
            return
        decoded = decode_rle({"size": list(mask.shape), "counts": counts})
    np.testing.assert_array_equal(decoded, mask)


def _value_lengths(counts: str) -> list[int]:
    lengths, current = [], 0
    for char in counts:
        current += 1
        if (ord(char) - 48) < 0x20:
            lengths.append(current)
            current = 0
    return lengths


def test_more_runs_than_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(MaskDecodeError, match="more than the 5 the mask size allows"):
        decode_rle({"size": [2, 2], "counts": "0" * 1_000_000})


def test_known_small_example_from_the_reference() -> None:
    mask = np.array([[0, 1, 1], [0, 1, 0]], dtype=np.uint8)
    assert encode_rle(mask) == {"size": [2, 3], "counts": "231"}
    np.testing.assert_array_equal(decode_rle({"size": [2, 3], "counts": "231"}), mask)


def test_encode_accepts_fortran_order_bool_and_255_values() -> None:
    rng = np.random.default_rng(7)
    mask = (rng.random((33, 57)) < 0.3).astype(np.uint8)
    expected = coco_counts(mask)
    assert encode_rle(np.asfortranarray(mask))["counts"] == expected
    assert encode_rle(mask.astype(bool))["counts"] == expected
    assert encode_rle(mask * 255)["counts"] == expected
    assert encode_rle(mask[:, ::-1][:, ::-1])["counts"] == expected  # non-contiguous view


def test_decode_accepts_bytes_and_uncompressed_counts() -> None:
    mask = np.array([[0, 1, 1], [0, 1, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(decode_rle({"size": [2, 3], "counts": b"231"}), mask)
    np.testing.assert_array_equal(decode_rle({"size": [2, 3], "counts": [2, 3, 1]}), mask)


def test_empty_mask_and_area() -> None:
    assert encode_rle(np.zeros((0, 4), np.uint8)) == {"size": [0, 4], "counts": "0"}
    assert decode_rle({"size": [0, 4], "counts": "0"}).shape == (0, 4)
    mask = np.zeros((20, 30), np.uint8)
    mask[3:9, 4:14] = 1
    assert int(decode_rle(encode_rle(mask)).sum()) == 60


@pytest.mark.parametrize(
    ("rle", "expected"),
    [
        ({"size": [2, 3], "counts": "23"}, "cover 5 pixels but size 2x3 needs 6"),
        ({"size": [2, 3], "counts": "2311"}, "cover 10 pixels but size 2x3 needs 6"),
        ({"size": [2, 3], "counts": "23~"}, "invalid character '~' at position 2"),
        ({"size": [2, 3], "counts": "2 31"}, "invalid character ' ' at position 1"),
        ({"size": [2, 3], "counts": "23é"}, "non-ASCII character at position 2"),
        ({"size": [2, 3], "counts": "23P"}, "truncated"),
        ({"size": [2, 3], "counts": ""}, "empty"),
        ({"size": [2, 3], "counts": "@"}, "negative run (-16) at run 0"),
        ({"size": [2, 3], "counts": 5}, "must be a string"),
        ({"size": [2], "counts": "6"}, "size must be [height, width]"),
        ({"size": "23", "counts": "6"}, "size must be [height, width]"),
        ({"size": [-2, -3], "counts": "6"}, "height must not be negative"),
        ({"size": [2.0, 3], "counts": "6"}, "height must be an integer"),
        ({"size": [True, 6], "counts": "6"}, "height must be an integer"),
        ({"size": [100000, 100000], "counts": "6"}, "pixel limit"),
        ({"counts": "6"}, "no 'size'"),
        ({"size": [2, 3]}, "no 'counts'"),
    ],
)
def test_bad_rle_gives_a_clear_error(rle: dict[str, object], expected: str) -> None:
    with pytest.raises(MaskDecodeError) as info:
        decode_rle(rle)
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(MaskDecodeError, match="must be a mapping"):
        decode_rle("231")  # type: ignore[arg-type]


def nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    return np.minimum(((np.arange(n_out) + 0.5) * (n_in / n_out)).astype(int), n_in - 1)


@settings(max_examples=150, deadline=None)
@given(masks(max_side=64), st.integers(1, 40), st.integers(1, 40))
def test_scaled_decode_equals_sampling_the_full_mask(
    mask: np.ndarray, out_w: int, out_h: int
) -> None:
    h, w = mask.shape
    expected = mask[nearest_indices(h, out_h)[:, None], nearest_indices(w, out_w)[None, :]]
    scaled = decode_rle_scaled(encode_rle(mask), out_w, out_h)
    assert scaled.shape == (out_h, out_w)
    np.testing.assert_array_equal(scaled, expected)


def test_scaled_decode_at_full_size_is_the_mask() -> None:
    mask = (np.random.default_rng(3).random((45, 70)) < 0.5).astype(np.uint8)
    np.testing.assert_array_equal(decode_rle_scaled(encode_rle(mask), 70, 45), mask)


def test_scaled_decode_of_4k_to_board_size_keeps_the_shape() -> None:
    mask = np.zeros((2160, 3840), np.uint8)
    mask[600:1500, 900:2400] = 1
    scaled = decode_rle_scaled(encode_rle(mask), 1280, 720)
    assert scaled[200:500, 300:800].all()
    assert scaled[:199].sum() == 0 and scaled[501:].sum() == 0
    with pytest.raises(MaskDecodeError, match="output size"):
        decode_rle_scaled(encode_rle(mask), 0, 720)


def test_dilate_grows_a_diamond_and_leaves_the_input_alone() -> None:
    dot = np.zeros((7, 7), dtype=bool)
    dot[3, 3] = True
    grown = dilate(dot, 2)
    rows, cols = np.indices(dot.shape)
    # 4-neighbour growth: pixels within city-block distance 2 of the dot, clipped at the edges.
    np.testing.assert_array_equal(grown, np.abs(rows - 3) + np.abs(cols - 3) <= 2)
    assert dot.sum() == 1
    edge = np.zeros((3, 3), dtype=bool)
    edge[0, 0] = True
    assert dilate(edge).sum() == 3
