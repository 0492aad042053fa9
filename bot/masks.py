"""Codecs for the object masks Kling returns from its selection endpoints.

Kling sends each mask twice: ``rle_mask`` (``{"size": [h, w], "counts": str}``, COCO compressed
RLE over the pixels in column-major order) and ``png_mask`` (a base64 PNG of undocumented pixel
format); the bot reads only ``rle_mask``. Everything here is numpy over runs or over
characters, never a Python loop per pixel: a 4K mask has 8.3 million pixels but only a few tens
of thousands of runs.

``dilate`` is the project's one mask-growing helper (board halos, emulator segmentation and fills).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MAX_MASK_PIXELS",
    "MaskDecodeError",
    "decode_rle",
    "decode_rle_scaled",
    "dilate",
    "encode_rle",
    "rle_runs",
    "rle_size",
]

# Kling accepts videos up to 2160 px on each side; leave generous headroom, but refuse sizes that
# would make us allocate gigabytes because of a corrupted or hostile response.
MAX_MASK_PIXELS = 8192 * 8192

_ASCII_OFFSET = 48  # counts characters are '0' (48) ... 'o' (111)
_PAYLOAD_BITS = 5
_CONTINUE_BIT = 0x20
_SIGN_BIT = 0x10
_PAYLOAD_MASK = 0x1F
# 12 characters carry 60 payload bits: the largest shift that still fits a signed int64.
_MAX_CHARS_PER_VALUE = 12
# Characters decoded per slice: bounds the temporary arrays (a few bytes per character of the
# slice) whatever the length of the string.
_CHUNK_CHARS = 1 << 20


class MaskDecodeError(ValueError):
    """A mask from Kling (RLE or PNG) that cannot be turned into pixels."""


def rle_size(rle: Mapping[str, Any]) -> tuple[int, int]:
    """Return ``(h, w)`` from an RLE mapping, refusing anything that is not two sane integers."""
    if not isinstance(rle, Mapping):
        raise MaskDecodeError(
            f"RLE mask must be a mapping with 'size' and 'counts', got {type(rle).__name__}"
        )
    if "size" not in rle:
        raise MaskDecodeError("RLE mask has no 'size' (expected [height, width])")
    size = rle["size"]
    is_pair = isinstance(size, Sequence | np.ndarray) and not isinstance(size, str | bytes)
    if not is_pair or len(size) != 2:
        raise MaskDecodeError(f"RLE size must be [height, width], got {size!r}")
    dims: list[int] = []
    for name, value in zip(("height", "width"), size, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise MaskDecodeError(f"RLE size {name} must be an integer, got {value!r}")
        if value < 0:
            raise MaskDecodeError(f"RLE size {name} must not be negative, got {value}")
        dims.append(int(value))
    h, w = dims
    if h * w > MAX_MASK_PIXELS:
        raise MaskDecodeError(f"RLE size {h}x{w} is larger than the {MAX_MASK_PIXELS} pixel limit")
    return h, w


def _parse_counts(counts: str | bytes | bytearray, max_runs: int | None = None) -> np.ndarray:
    """Turn a compressed counts string into run lengths (int64).

    Memory follows the number of runs, never the number of characters times eight: the string
    is read in slices of at most ``_CHUNK_CHARS`` characters (cut where a value ends), and each
    slice is decoded with one numpy pass per character position inside a value (at most 12,
    usually 1 or 2), writing straight into the one output array. More than ``max_runs`` runs is
    refused before that array is made.
    """
    if isinstance(counts, str):
        try:
            raw = counts.encode("ascii")
        except UnicodeEncodeError as exc:
            raise MaskDecodeError(
                f"RLE counts contain a non-ASCII character at position {exc.start}"
            ) from None
    else:
        raw = bytes(counts)
    if not raw:
        raise MaskDecodeError("RLE counts string is empty")
    codes = np.frombuffer(raw, dtype=np.uint8)
    runs = _count_values(codes)
    if max_runs is not None and runs > max_runs:
        # Only zero-length runs could make more runs than pixels; refuse before allocating.
        raise MaskDecodeError(
            f"RLE counts hold {runs} runs, more than the {max_runs} the mask size allows"
        )
    values = np.empty(runs, dtype=np.int64)
    done = 0
    begin = 0
    while begin < codes.size:
        stop = min(begin + _CHUNK_CHARS, codes.size)
        chunk = codes[begin:stop] - np.uint8(_ASCII_OFFSET)
        _check_characters(chunk, raw, begin)
        if chunk.max() < _CONTINUE_BIT:
            # Every value of the slice is one character (very short runs): 5 bits, the top
            # one the sign.
            out = values[done : done + chunk.size]
            np.bitwise_and(chunk, _PAYLOAD_MASK >> 1, out=out, casting="unsafe")
            out -= chunk & _SIGN_BIT
            done += chunk.size
            begin = stop
            continue
        ends = np.flatnonzero(chunk < _CONTINUE_BIT)  # no continuation bit: a value ends
        if stop == codes.size:
            if ends.size == 0 or ends[-1] != chunk.size - 1:
                raise MaskDecodeError("RLE counts end in the middle of a value (truncated string?)")
        elif ends.size == 0:
            raise MaskDecodeError("RLE counts contain a value too large to be a run length")
        else:
            chunk = chunk[: ends[-1] + 1]  # the rest starts the next slice
        _decode_values(chunk, ends, values[done : done + ends.size])
        done += ends.size
        begin += chunk.size
    # From the fourth run on, each value is a delta against the run two places back; that is
    # a running sum along each parity chain, except that run 0 does not seed the even chain.
    if values.size > 3:
        np.cumsum(values[1::2], out=values[1::2])
        np.cumsum(values[2::2], out=values[2::2])
    return values


def _count_values(codes: np.ndarray) -> int:
    total = 0
    for begin in range(0, codes.size, _CHUNK_CHARS):
        # Characters below '0' wrap round in uint8 and so never count as a value's end.
        chunk = codes[begin : begin + _CHUNK_CHARS] - np.uint8(_ASCII_OFFSET)
        total += int(np.count_nonzero(chunk < _CONTINUE_BIT))
    return total


def _check_characters(chunk: np.ndarray, raw: bytes, offset: int) -> None:
    # uint8 arithmetic wraps characters below '0' round to large values, so one comparison
    # catches both ends of the allowed range.
    bad = np.flatnonzero(chunk > 0x3F)
    if bad.size:
        pos = offset + int(bad[0])
        raise MaskDecodeError(
            f"RLE counts contain invalid character {chr(raw[pos])!r} at position {pos} "
            "(allowed: '0' to 'o')"
        )


def _decode_values(chunk: np.ndarray, ends: np.ndarray, out: np.ndarray) -> None:
    """Decode the values of ``chunk`` (whole values, ending at ``ends``) into ``out``.

    A value's last character holds its most significant 5 bits (the top one the sign), so the
    value starts as that signed number and takes in one more character per pass, walking back
    from the end: at most 12 passes over the values, usually one or two.
    """
    lengths = np.diff(ends, prepend=-1)
    longest = int(lengths.max())
    if longest > _MAX_CHARS_PER_VALUE:
        raise MaskDecodeError("RLE counts contain a value too large to be a run length")
    last = chunk[ends]
    np.bitwise_and(last, _PAYLOAD_MASK >> 1, out=out, casting="unsafe")
    out -= last & _SIGN_BIT
    for back in range(1, longest):
        longer = lengths > back
        lower = chunk[np.maximum(ends - back, 0)] & _PAYLOAD_MASK
        np.left_shift(out, _PAYLOAD_BITS, out=out, where=longer)
        np.bitwise_or(out, lower, out=out, where=longer, casting="unsafe")


def rle_runs(rle: Mapping[str, Any]) -> np.ndarray:
    """Validated run lengths of an RLE mask (background first), as int64.

    ``counts`` may be Kling's compressed string (``str`` or ``bytes``) or an uncompressed list of
    run lengths. Raises :class:`MaskDecodeError` unless the runs are non-negative and cover
    exactly ``h * w`` pixels.
    """
    h, w = rle_size(rle)
    if "counts" not in rle:
        raise MaskDecodeError("RLE mask has no 'counts'")
    counts = rle["counts"]
    if isinstance(counts, str | bytes | bytearray):
        runs = _parse_counts(counts, max_runs=h * w + 1)
    elif isinstance(counts, Sequence | np.ndarray):
        runs = np.asarray(counts)
        if runs.ndim != 1 or (runs.size and not np.issubdtype(runs.dtype, np.integer)):
            raise MaskDecodeError("uncompressed RLE counts must be a flat list of integers")
        runs = runs.astype(np.int64)
    else:
        raise MaskDecodeError(f"RLE counts must be a string, got {type(counts).__name__}")
    if runs.size and runs.min() < 0:
        i = int(np.flatnonzero(runs < 0)[0])
        raise MaskDecodeError(f"RLE counts decode to a negative run ({int(runs[i])}) at run {i}")
    covered = int(runs.sum())
    if covered != h * w:
        raise MaskDecodeError(f"RLE counts cover {covered} pixels but size {h}x{w} needs {h * w}")
    return runs


def decode_rle(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode Kling's ``rle_mask`` into an ``(h, w)`` uint8 array, 1 where selected.

    Like ``pycocotools.mask.decode`` the result is a Fortran-ordered view (the runs walk the
    image column by column); call ``np.ascontiguousarray`` if C order matters.
    """
    h, w = rle_size(rle)
    runs = rle_runs(rle)
    flat = _expand_runs(runs)
    return flat.reshape(w, h).T


def _expand_runs(runs: np.ndarray) -> np.ndarray:
    # np.repeat writes each run as one block, so the cost follows the number of runs and the
    # memory bandwidth, not a per-pixel loop.
    values = np.zeros(runs.size, dtype=np.uint8)
    values[1::2] = 1
    return np.repeat(values, runs)


def decode_rle_scaled(rle: Mapping[str, Any], out_w: int, out_h: int) -> np.ndarray:
    """Decode to an ``(out_h, out_w)`` uint8 mask by nearest-neighbour sampling (C-ordered).

    Pixel ``(j, i)`` of the result is source pixel ``(floor((j + 0.5) * h / out_h),
    floor((i + 0.5) * w / out_w))``. The runs are expanded column by column (one cheap block
    write), then only the sampled columns and rows are gathered, which measured faster than
    locating each sample among the runs with a binary search.
    """
    h, w = rle_size(rle)
    if out_w <= 0 or out_h <= 0:
        raise MaskDecodeError(f"output size must be positive, got {out_w}x{out_h}")
    runs = rle_runs(rle)
    if h == 0 or w == 0:
        return np.zeros((out_h, out_w), dtype=np.uint8)
    xs = np.minimum(((np.arange(out_w) + 0.5) * (w / out_w)).astype(np.intp), w - 1)
    ys = np.minimum(((np.arange(out_h) + 0.5) * (h / out_h)).astype(np.intp), h - 1)
    by_column = _expand_runs(runs).reshape(w, h)
    return np.ascontiguousarray(by_column[xs][:, ys].T)


def dilate(mask: np.ndarray, steps: int = 1) -> np.ndarray:
    """A boolean ``mask`` grown by ``steps`` pixels (4-neighbour); the input is left as is."""
    grown = mask
    for _ in range(steps):
        step = grown.copy()
        step[1:] |= grown[:-1]
        step[:-1] |= grown[1:]
        step[:, 1:] |= grown[:, :-1]
        step[:, :-1] |= grown[:, 1:]
        grown = step
    return grown


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """Encode a 2-D mask (non-zero = selected) exactly as Kling and ``pycocotools`` do.

    Returns ``{"size": [h, w], "counts": str}``; the counts string equals
    ``pycocotools.mask.encode(np.asfortranarray(mask))["counts"].decode("ascii")``.
    """
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"mask must be 2-D (h, w), got shape {arr.shape}")
    h, w = (int(d) for d in arr.shape)
    total = h * w
    if total == 0:
        return {"size": [h, w], "counts": "0"}
    selected = arr != 0
    edges = np.concatenate(([0], _column_major_changes(selected), [total]))
    runs = np.diff(edges)
    if selected[0, 0]:
        runs = np.concatenate(([0], runs))
    return {"size": [h, w], "counts": _format_counts(runs.astype(np.int64))}


def _column_major_changes(selected: np.ndarray) -> np.ndarray:
    """Column-major positions p where pixel p differs from pixel p-1, in increasing order."""
    h, w = selected.shape
    if selected.flags.f_contiguous and not selected.flags.c_contiguous:
        flat = selected.T.ravel()  # a view: memory already walks column by column
        return np.flatnonzero(flat[1:] != flat[:-1]) + 1
    # Transposing a C-ordered 4K mask costs more than the whole encode, so find the changes in
    # place: down each column, then between the bottom of one column and the top of the next.
    down = np.flatnonzero(selected[1:] != selected[:-1])
    rows, cols = np.divmod(down, w)
    across = (np.flatnonzero(selected[0, 1:] != selected[-1, :-1]) + 1) * h
    return np.sort(np.concatenate((cols * h + rows + 1, across)))


def _format_counts(runs: np.ndarray) -> str:
    values = runs.copy()
    if values.size > 3:
        values[3:] -= runs[1:-2]
    # Characters per value: the fewest 5-bit groups holding it as a signed number.
    nchars = np.ones(values.size, dtype=np.int64)
    for k in range(1, 13):
        limit = 1 << (_PAYLOAD_BITS * k - 1)
        nchars += (values < -limit) | (values >= limit)
    total = int(nchars.sum())
    starts = np.cumsum(nchars) - nchars
    owner = np.repeat(np.arange(values.size), nchars)
    place = np.arange(total, dtype=np.int64) - starts[owner]
    chunk = (values[owner] >> (_PAYLOAD_BITS * place)) & _PAYLOAD_MASK
    chunk[place < nchars[owner] - 1] |= _CONTINUE_BIT
    text: str = (chunk + _ASCII_OFFSET).astype(np.uint8).tobytes().decode("ascii")
    return text
