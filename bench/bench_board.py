"""Board render from a decoded 4K (and a 1080p) frame and three RLE masks to the final encoded
image, vs a plain reference pipeline (pycocotools decode at full size, Pillow composite at full
size, resize, PNG encode).

Run: .venv/bin/python bench/bench_board.py
"""

from __future__ import annotations

import io
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import pycocotools.mask as coco
from PIL import Image

from bot.grid import BoardGrid
from bot.masks import encode_rle
from bot.render import mask_colour, render_board

SIZES = ((3840, 2160), (1920, 1080))
REPEATS = 12


def video_like_frame(width: int, height: int, seed: int = 2) -> np.ndarray:
    """Smooth gradients, a few flat shapes and mild grain: compresses like a real frame."""
    rng = np.random.default_rng(seed)
    k = width / 3840  # shapes scale with the frame
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.stack(
        [80 + 100 * xx / width, 60 + 120 * yy / height, 140 - 60 * (xx + yy) / (width + height)],
        axis=-1,
    )
    for _ in range(12):
        top, left = rng.integers(0, height - 300 * k), rng.integers(0, width - 400 * k)
        rows, columns = int(rng.integers(100, 300) * k), int(rng.integers(100, 400) * k)
        frame[top : top + rows, left : left + columns] = rng.integers(0, 255, 3)
    frame += rng.normal(0, 2.0, frame.shape).astype(np.float32)
    return np.clip(frame, 0, 255).astype(np.uint8)


def three_objects(width: int, height: int) -> list[np.ndarray]:
    yy, xx = np.ogrid[:height, :width]
    # The shapes are laid out on a 4K frame; smaller frames get the same shapes scaled down.
    yy, xx = yy * (2160 / height), xx * (3840 / width)
    person = ((xx - 1200) / 350.0) ** 2 + ((yy - 1200) / 800.0) ** 2 < 1
    car = (yy > 1400) & (yy < 1900) & (xx > 2200) & (xx < 3500) & (yy - 1400 > (xx - 2200) / 8)
    ball = (xx - 2900) ** 2 + (yy - 700) ** 2 < 220**2
    return [m.astype(np.uint8) for m in (person, car, ball)]


def reference_pipeline(frame: np.ndarray, rles: list[dict[str, object]]) -> bytes:
    image = Image.fromarray(frame)
    for object_id, rle in enumerate(rles):
        mask = coco.decode(rle)
        colour = Image.new("RGB", image.size, mask_colour(object_id))
        alpha = Image.fromarray(np.ascontiguousarray(mask * np.uint8(102)), "L")
        image = Image.composite(colour, image, alpha)
    small = image.resize((1280, 720))
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return buffer.getvalue()


def timed(funcs: list[Callable[[], bytes]], repeats: int = REPEATS) -> list[list[float]]:
    """Milliseconds per call for each function, interleaved so background load hits all."""
    for func in funcs:
        func()
    samples: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeats):
        for func, out in zip(funcs, samples, strict=True):
            start = time.perf_counter()
            func()
            out.append((time.perf_counter() - start) * 1e3)
    return samples


def bench(width: int, height: int) -> None:
    frame = video_like_frame(width, height)
    masks = three_objects(width, height)
    rles = [encode_rle(mask) for mask in masks]
    coco_rles = [{"size": r["size"], "counts": r["counts"].encode("ascii")} for r in rles]
    grid = BoardGrid.for_frame(width, height)
    points = [(1, 0.31, 0.55), (2, 0.74, 0.32), (3, 0.75, 0.8)]
    caption = "frame 45 · 0:01.50"
    pairs = list(enumerate(rles))

    variants: list[tuple[str, Callable[[], bytes]]] = [
        ("reference (full-size PNG pipeline)", lambda: reference_pipeline(frame, coco_rles)),
        ("render_board jpeg (default)", lambda: render_board(frame, pairs, points, grid, caption)),
        ("render_board png", lambda: render_board(frame, pairs, points, grid, caption,
                                                  image_format="png")),
        ("render_board webp", lambda: render_board(frame, pairs, points, grid, caption,
                                                   image_format="webp")),
    ]
    samples = timed([func for _, func in variants])
    sizes = [len(func()) for _, func in variants]
    ref_best, ref_median = min(samples[0]), statistics.median(samples[0])
    print(f"frame {width}x{height}, {len(rles)} RLE masks, board 1280x720")
    for (name, _), runs, size in zip(variants, samples, sizes, strict=True):
        best, median = min(runs), statistics.median(runs)
        target = "  (target <= 0.2)" if name.startswith("render_board jpeg") else ""
        print(f"{name:<36} best {best:7.1f} ms  median {median:7.1f} ms  {size / 1024:7.0f} KiB"
              f"  ratio {best / ref_best:.3f} (median {median / ref_median:.3f}){target}")


def main() -> None:
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # pycocotools under numpy 2
    for width, height in SIZES:
        bench(width, height)


if __name__ == "__main__":
    main()
