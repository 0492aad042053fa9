"""How much encoding boards on drawing threads holds up the event loop that answers members.

Two threads encode a 1280x720 board JPEG (quality 90, 4:4:4, the board's settings) over and
over while an asyncio loop sleeps 1 ms at a time, doing a little Python work between sleeps as
the bot's loop does. Each tick's lateness is what every answer waiting on that loop would wait
in addition. Compared in the same run:
- in memory: ``Image.save`` into ``io.BytesIO`` (Pillow encodes chunk by chunk, holding the GIL);
- the bot: ``bot.render.encoding.encode_image`` (into an anonymous file: the GIL is released).
Also prints the encoding time of one board alone for each, and checks the bytes are the same.

Run: .venv/bin/python bench/bench_encode.py
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import threading
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from bot.render.encoding import encode_image

OPTIONS = {"quality": 90, "subsampling": 0, "optimize": False}
THREADS = 2


def board_like() -> Image.Image:
    """A frame like the load bench's clip (flat background, a square), with a little noise."""
    pixels = np.empty((720, 1280, 3), np.uint8)
    pixels[:] = (40, 60, 110)
    pixels[250:490, 520:760] = (50, 190, 70)
    noise = np.random.default_rng(2).integers(-6, 6, pixels.shape)
    return Image.fromarray(np.clip(pixels.astype(int) + noise, 0, 255).astype(np.uint8))


def in_memory(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **OPTIONS)
    return buffer.getvalue()


def the_bots(image: Image.Image) -> bytes:
    return encode_image(image, "JPEG", **OPTIONS)


async def tick_lateness(encode: Callable[[], bytes], seconds: float) -> list[float]:
    """Lateness (ms) of each 1 ms sleep while THREADS threads call ``encode`` in a loop."""
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            encode()

    workers = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in workers:
        thread.start()
    late: list[float] = []
    end = time.perf_counter() + seconds
    try:
        while time.perf_counter() < end:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            late.append((time.perf_counter() - started - 0.001) * 1000)
            sum(range(2000))  # a little of the loop's own Python work
    finally:
        stop.set()
        for thread in workers:
            thread.join()
    return late


def alone_ms(encode: Callable[[], bytes], repeats: int = 30) -> float:
    encode()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        encode()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def summary(late: list[float]) -> str:
    values = np.array(late)
    p50, p99 = np.percentile(values, [50, 99])
    worst = values.max()
    return (
        f"{len(values):5d} ticks, late p50 {p50:6.2f} ms, p99 {p99:6.2f} ms, worst {worst:6.1f} ms"
    )


async def main_async(seconds: float) -> None:
    image = board_like()
    assert in_memory(image) == the_bots(image), "the two ways must give the same bytes"
    size = len(the_bots(image)) // 1024
    print(f"board JPEG: {size} KiB; {THREADS} encoding threads; {seconds:.0f} s each")
    idle = await tick_lateness(lambda: time.sleep(0.005) or b"", seconds)
    memory = await tick_lateness(lambda: in_memory(image), seconds)
    bots = await tick_lateness(lambda: the_bots(image), seconds)
    print(f"  nothing encoding : {summary(idle)}")
    memory_alone = alone_ms(lambda: in_memory(image))
    bots_alone = alone_ms(lambda: the_bots(image))
    print(f"  in memory (ref.) : {summary(memory)}; one board alone {memory_alone:.2f} ms")
    print(f"  the bot          : {summary(bots)}; one board alone {bots_alone:.2f} ms")
    ratio = np.percentile(memory, 99) / max(np.percentile(bots, 99), 1e-3)
    print(f"loop lateness p99, in memory / the bot: {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measurement")
    asyncio.run(main_async(parser.parse_args().seconds))


if __name__ == "__main__":
    main()
