"""Frame N of a 10 s 60 fps 4K clip: seek-and-decode (bot.media) vs decoding from the start,
and vs the physical floor: decoding, from its keyframe, every frame of the keyframe group up to
frame N (what any decoder must do; for the last frame of a group, the whole group).

Run: .venv/bin/python bench/bench_frames.py [--keep DIR]
The clip (low-complexity content, a keyframe every second like phone footage) is generated
once into a temporary directory, or into DIR and reused with --keep.
Prints each frame's best-of time, then the median and the worst frame next to the worst frame's
floor. Target: ratio to decoding from the start <= 0.2 for frames in the second half.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from PIL import Image

from bot.media import FrameExtractor, extract_frame, probe_video
from bot.media.frames import DECODER_THREADS, rgb_pixels

WIDTH, HEIGHT, FPS, SECONDS = 3840, 2160, 60, 10
FRAMES_TO_TRY = (300, 359, 420, 479, 510, 540, 599)
REPEATS = 5
BLOCK = 128


def write_clip(path: Path) -> None:
    """Encode the clip from yuv420p planes directly (RGB conversion at 4K costs more than x264).

    Flat background, a moving square, and the frame index as 10 black/white blocks on top.
    """
    base = np.full((HEIGHT * 3 // 2, WIDTH), 128, np.uint8)
    base[:HEIGHT] = 80
    base[: HEIGHT // 2, : WIDTH // 2] = 110
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = FPS
        stream.options = {"crf": "28", "preset": "ultrafast"}
        for index in range(FPS * SECONDS):
            planes = base.copy()
            x = (index * 8) % (WIDTH - 400)
            planes[1400:1800, x : x + 400] = 235
            for bit in range(10):
                planes[:BLOCK, bit * BLOCK : (bit + 1) * BLOCK] = 235 if index >> bit & 1 else 16
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def read_index(image: Image.Image) -> int:
    pixels = np.asarray(image)
    return sum(
        1 << bit for bit in range(10) if pixels[BLOCK // 2, bit * BLOCK + BLOCK // 2, 0] > 127
    )


def decode_from_start(path: Path, index: int) -> Image.Image:
    """The naive way: decode every frame from the first until frame `index`."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = DECODER_THREADS  # as the bot decodes
        for position, frame in enumerate(container.decode(stream)):
            if position == index:
                return Image.fromarray(rgb_pixels(frame))  # as the bot converts
    raise IndexError(index)


def decode_group_until(path: Path, index: int) -> Image.Image:
    """The floor: seek to the keyframe of frame `index`'s group, decode every frame up to it."""
    keyframe = index - index % FPS
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = DECODER_THREADS  # as the bot decodes
        ticks = int(1 / (stream.average_rate * stream.time_base))
        start = stream.start_time or 0
        container.seek(start + keyframe * ticks, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.pts is not None and frame.pts >= start + index * ticks:
                return Image.fromarray(rgb_pixels(frame))  # as the bot converts
    raise IndexError(index)


def best_of(repeats: int, action: object) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def best_of_each(repeats: int, *actions: Callable[[], object]) -> list[float]:
    """Best-of seconds of each action, run in turn so that load from other processes hits
    all of them alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for action, out in zip(actions, times, strict=True):
            started = time.perf_counter()
            action()
            out.append(time.perf_counter() - started)
    return [min(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="directory to keep (and reuse) the clip in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        clip = folder / "clip_4k_60fps_10s.mp4"
        if not clip.exists():
            started = time.perf_counter()
            write_clip(clip)
            print(f"generated {clip.name} in {time.perf_counter() - started:.1f} s")
        info = probe_video(clip)
        print(
            f"clip: {info.width}x{info.height}, {info.fps:g} fps, {info.duration_s:g} s, "
            f"{info.frame_count} frames, {info.size_bytes / 1e6:.1f} MB, keyframe every 60"
        )
        print(
            f"{'frame':>6} {'seek+decode s':>14} {'from start s':>13} {'ratio':>7}"
            f" {'floor s':>8} {'x floor':>8}"
        )
        ratios = []
        times: dict[int, tuple[float, float]] = {}
        for index in FRAMES_TO_TRY:
            fast_image = extract_frame(clip, index)
            slow_image = decode_from_start(clip, index)
            floor_image = decode_group_until(clip, index)
            assert read_index(fast_image) == index == read_index(slow_image), index
            assert read_index(floor_image) == index, index
            fast, slow, floor = best_of_each(
                REPEATS,
                lambda i=index: extract_frame(clip, i),
                lambda i=index: decode_from_start(clip, i),
                lambda i=index: decode_group_until(clip, i),
            )
            ratios.append(fast / slow)
            times[index] = (fast, floor)
            print(
                f"{index:>6} {fast:>14.3f} {slow:>13.3f} {fast / slow:>7.3f} {floor:>8.3f}"
                f" {fast / floor:>8.2f}"
            )
        print(
            f"ratio: median {statistics.median(ratios):.3f}, worst {max(ratios):.3f} "
            "(target <= 0.2)"
        )
        worst = max(times, key=lambda i: times[i][0])
        fast, floor = times[worst]
        print(
            f"seek+decode: median {statistics.median(t for t, _ in times.values()):.3f} s, "
            f"worst {fast:.3f} s (frame {worst}, {worst % FPS + 1} frames into its group); "
            f"its floor {floor:.3f} s (decoding its group from the keyframe), "
            f"worst / floor {fast / floor:.2f}"
        )
        with tempfile.TemporaryDirectory() as cache:
            extractor = FrameExtractor(clip, Path(cache))
            first = best_of(1, lambda: extractor.get(479))
            cached = best_of(REPEATS, lambda: extractor.get(479))
            print(
                f"frame 479 with cache: first {first:.3f} s (decode + PNG write), "
                f"repeat {cached:.3f} s"
            )


if __name__ == "__main__":
    main()
