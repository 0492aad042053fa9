"""Videos the emulator produces: selection previews, edit results and multi-image clips.

These imitate the shape of Kling's outputs (real, playable H.264 files whose content reacts
to the request), not the quality of Kling's models. Everything here blocks; run it in a thread.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image

from bot.kling.emulator.segmentation import Click
from bot.kling.emulator.tracking import track_video
from bot.masks import dilate, encode_rle
from bot.media import write_mp4
from bot.render.board import paint_masks

_REMOVAL_GROW_PX = 3
_REMOVAL_RING_PX = 2
# Longest side of the grid a removal is interpolated on (see _fill_from_surroundings).
_FILL_GRID_MAX_SIDE = 256
_ADD_HEIGHT_FRACTION = 1 / 3
_MULTI_IMAGE_FPS = 24
_CROSSFADE_S = 0.5
_KEN_BURNS_ZOOM = 0.12
# Emulator outputs favour speed over size.
ENCODER_PRESET = "ultrafast"
_ASPECT_SIZES = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}


def iter_frames(path: Path, rotation: int = 0) -> Iterator[np.ndarray]:
    """Every frame of a video as RGB arrays, in display orientation."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        turns = round(rotation / 90) % 4
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            # Display rotation is counter-clockwise, like np.rot90.
            yield np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def fit_within(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink by a whole factor (a box filter, much faster than resampling) to fit max_side."""
    factor = math.ceil(max(rgb.shape[:2]) / max_side)
    if factor <= 1:
        return rgb
    return np.asarray(Image.fromarray(rgb).reduce(factor))


def draw_overlay(rgb: np.ndarray, masks: dict[int, np.ndarray]) -> np.ndarray:
    """Translucent colour per object plus an outline, as in Kling's preview video."""
    image = Image.fromarray(rgb)
    paint_masks(image, sorted(masks.items()))
    return np.asarray(image)


def render_preview(
    video_path: Path,
    rotation: int,
    fps: float,
    clicks: dict[int, list[Click]],
    tolerance: float,
    max_side: int,
    out_video: Path,
    out_cover: Path,
    out_tracking: Path,
) -> None:
    """Overlay video, cover image (first marked frame) and per-frame masks as JSON."""
    cover_index = min(clicks) if clicks else 0
    tracking: list[dict[str, object]] = []

    def frames() -> Iterator[np.ndarray]:
        tracked = track_video(lambda: iter_frames(video_path, rotation), clicks, tolerance)
        for index, (rgb, masks) in enumerate(tracked):
            tracking.append(
                {
                    "frame_index": index,
                    "rle_mask_list": [
                        {"object_id": object_id, "rle_mask": encode_rle(mask)}
                        for object_id, mask in sorted(masks.items())
                    ],
                }
            )
            small = fit_within(rgb, max_side)
            small_masks = {oid: _resize_mask(m, small.shape[:2]) for oid, m in masks.items()}
            drawn = draw_overlay(small, small_masks)
            if index == cover_index:
                Image.fromarray(drawn).save(out_cover, format="PNG")
            yield drawn

    write_mp4(frames(), out_video, fps, preset=ENCODER_PRESET)
    out_tracking.write_text(json.dumps({"frames": tracking}, separators=(",", ":")))


def _resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape == shape:
        return mask
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.NEAREST)) > 0


def _interpolate_along_rows(pixels: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill each hole pixel from the nearest known pixels left and right of it on its row.

    Returns the filled values and where a value could be found at all.
    """
    height, width = hole.shape
    index = np.broadcast_to(np.arange(width), (height, width))
    left = np.maximum.accumulate(np.where(hole, -1, index), axis=1)
    right = np.minimum.accumulate(np.where(hole, width, index)[:, ::-1], axis=1)[:, ::-1]
    has_left, has_right = left >= 0, right < width
    rows = np.arange(height)[:, None]
    left_colour = pixels[rows, np.clip(left, 0, width - 1)]
    right_colour = pixels[rows, np.clip(right, 0, width - 1)]
    span = np.maximum(1, right - left)
    weight = np.where(has_left & has_right, (index - left) / span, np.where(has_right, 1.0, 0.0))
    filled = left_colour * (1 - weight[..., None]) + right_colour * weight[..., None]
    return filled, has_left | has_right


def _fill_from_surroundings(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Paint the (slightly grown) masked area from the pixels around it.

    Each hidden pixel is interpolated along its row and its column from the nearest visible
    pixels and the two estimates averaged, which continues gradients and flat backgrounds.
    Large areas are interpolated on a coarser grid: the fill is smooth, so this loses nothing
    visible and keeps a frame-sized removal to a few milliseconds.
    """
    box = _bbox(mask)
    if box is None:
        return rgb
    # Work in a window around the region: dilating a whole 4K frame per step is wasteful.
    margin = _REMOVAL_GROW_PX + _REMOVAL_RING_PX + 1
    left, top, right, bottom = box
    top, left = max(0, top - margin), max(0, left - margin)
    bottom, right = min(rgb.shape[0], bottom + margin), min(rgb.shape[1], right + margin)
    hole = dilate(mask[top:bottom, left:right], _REMOVAL_GROW_PX)
    window_rgb = rgb[top:bottom, left:right]
    step = max(1, -(-max(hole.shape) // _FILL_GRID_MAX_SIDE))
    coarse_pixels, coarse_hole = _coarsen(window_rgb, hole, step)
    by_row, row_ok = _interpolate_along_rows(coarse_pixels, coarse_hole)
    by_col_t, col_ok_t = _interpolate_along_rows(coarse_pixels.transpose(1, 0, 2), coarse_hole.T)
    by_col, col_ok = by_col_t.transpose(1, 0, 2), col_ok_t.T
    both = (row_ok & col_ok)[..., None]
    estimate = np.where(both, (by_row + by_col) / 2, np.where(row_ok[..., None], by_row, by_col))
    found = row_ok | col_ok
    if step > 1:
        height, width = hole.shape
        estimate = estimate.repeat(step, axis=0).repeat(step, axis=1)[:height, :width]
        found = found.repeat(step, axis=0).repeat(step, axis=1)[:height, :width]
    out = rgb.copy()
    window = out[top:bottom, left:right]
    fillable = hole & found
    window[fillable] = np.clip(estimate[fillable], 0, 255).astype(np.uint8)
    return out


def _coarsen(pixels: np.ndarray, hole: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Block means of `pixels` and "any hidden pixel" of `hole`, over step x step blocks."""
    if step == 1:
        return pixels.astype(np.float32), hole
    height, width = hole.shape
    pad_h, pad_w = -height % step, -width % step
    padded = np.pad(pixels, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge").astype(np.float32)
    padded_hole = np.pad(hole, ((0, pad_h), (0, pad_w)), mode="edge")
    blocks_h, blocks_w = padded_hole.shape[0] // step, padded_hole.shape[1] // step
    means: np.ndarray = padded.reshape(blocks_h, step, blocks_w, step, 3).mean(axis=(1, 3))
    # asarray: with a tuple axis numpy's stubs allow a scalar result, which never happens here.
    any_hidden = np.asarray(padded_hole.reshape(blocks_h, step, blocks_w, step).any(axis=(1, 3)))
    return means, any_hidden


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _paste_into_mask(rgb: np.ndarray, mask: np.ndarray, reference: Image.Image) -> np.ndarray:
    box = _bbox(mask)
    if box is None:
        return rgb
    left, top, right, bottom = box
    resized = reference.resize((right - left, bottom - top), Image.Resampling.BILINEAR)
    patch = np.asarray(resized).astype(np.float32)
    alpha = (patch[:, :, 3:4] / 255.0) * mask[top:bottom, left:right, None]
    out = rgb.astype(np.float32)
    region = out[top:bottom, left:right]
    out[top:bottom, left:right] = region * (1 - alpha) + patch[:, :, :3] * alpha
    return out.astype(np.uint8)


def _paste_beside(rgb: np.ndarray, mask: np.ndarray, references: list[Image.Image]) -> np.ndarray:
    """Place the reference images next to the selected region (or centred without one)."""
    height, width = rgb.shape[:2]
    target_h = max(8, int(height * _ADD_HEIGHT_FRACTION))
    scaled = [
        ref.resize(
            (max(1, round(ref.width * target_h / ref.height)), target_h), Image.Resampling.BILINEAR
        )
        for ref in references
    ]
    total_w = sum(img.width for img in scaled)
    box = _bbox(mask)
    if box is None:
        x, y = (width - total_w) // 2, (height - target_h) // 2
    else:
        left, top, right, bottom = box
        y = (top + bottom) // 2 - target_h // 2
        x = right + 4 if right + 4 + total_w <= width else left - 4 - total_w
        if x < 0:
            x = (width - total_w) // 2
    canvas = Image.fromarray(rgb).convert("RGBA")
    for img in scaled:
        canvas.alpha_composite(img, (max(0, min(x, width - 1)), max(0, min(y, height - 1))))
        x += img.width
    return np.asarray(canvas.convert("RGB"))


def render_edit(
    video_path: Path,
    rotation: int,
    fps: float,
    clicks: dict[int, list[Click]],
    edit_mode: str,
    references: list[Image.Image],
    tolerance: float,
    out_path: Path,
) -> float:
    """The edited video at the input's size (so it is itself a valid Kling input); returns
    its duration in seconds."""
    count = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal count
        for rgb, masks in track_video(lambda: iter_frames(video_path, rotation), clicks, tolerance):
            union = np.zeros(rgb.shape[:2], dtype=bool)
            for mask in masks.values():
                union |= mask
            if edit_mode == "removal":
                edited = _fill_from_surroundings(rgb, union)
            elif edit_mode == "swap":
                edited = _paste_into_mask(_fill_from_surroundings(rgb, union), union, references[0])
            else:
                edited = _paste_beside(rgb, union, references)
            count += 1
            yield edited

    write_mp4(frames(), out_path, fps, preset=ENCODER_PRESET)
    return count / fps


def _cover_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to cover `size` (a little larger, for the zoom) and centre-crop."""
    target_w, target_h = size
    scale = max(target_w / image.width, target_h / image.height)
    scaled = image.resize(
        (max(target_w, round(image.width * scale)), max(target_h, round(image.height * scale))),
        Image.Resampling.BILINEAR,
    )
    left = (scaled.width - target_w) // 2
    top = (scaled.height - target_h) // 2
    return scaled.crop((left, top, left + target_w, top + target_h))


def _ken_burns(base: Image.Image, progress: float, size: tuple[int, int]) -> np.ndarray:
    zoom = 1 + _KEN_BURNS_ZOOM * progress
    crop_w, crop_h = base.width / zoom, base.height / zoom
    left, top = (base.width - crop_w) / 2, (base.height - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    return np.asarray(base.resize(size, Image.Resampling.BILINEAR, box=box)).astype(np.float32)


def output_size(aspect_ratio: str, long_side: int) -> tuple[int, int]:
    ratio_w, ratio_h = _ASPECT_SIZES[aspect_ratio]
    if ratio_w >= ratio_h:
        return long_side, round(long_side * ratio_h / ratio_w / 2) * 2
    return round(long_side * ratio_w / ratio_h / 2) * 2, long_side


def render_multi_image(
    images: list[Image.Image], aspect_ratio: str, duration_s: float, long_side: int, out_path: Path
) -> float:
    """A clip showing each image in turn with a slow zoom and cross-fades; returns seconds."""
    size = output_size(aspect_ratio, long_side)
    bases = []
    for image in images:
        flat = Image.new("RGB", image.size, (128, 128, 128))
        flat.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
        bases.append(_cover_crop(flat, size))
    total = round(duration_s * _MULTI_IMAGE_FPS)
    per_image = total / len(bases)
    fade = max(1, round(_CROSSFADE_S * _MULTI_IMAGE_FPS))

    def frames() -> Iterator[np.ndarray]:
        for t in range(total):
            index = min(len(bases) - 1, int(t / per_image))
            progress = (t - index * per_image) / per_image
            frame = _ken_burns(bases[index], progress, size)
            remaining = (index + 1) * per_image - t
            if index + 1 < len(bases) and remaining <= fade:
                weight = 1 - remaining / fade
                frame = frame * (1 - weight) + _ken_burns(bases[index + 1], 0.0, size) * weight
            yield frame.astype(np.uint8)

    write_mp4(frames(), out_path, _MULTI_IMAGE_FPS, preset=ENCODER_PRESET)
    return total / _MULTI_IMAGE_FPS
