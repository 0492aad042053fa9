"""decode_rle on a 4K mask with several objects vs pycocotools' C decoder, same counts; then
one realistic mask per object, as Kling returns them (a person with ragged hair, a car, a ball,
foliage, a thin pole), each decoded at full size and at board size with its peak memory, with
the median and the worst object; then 4K masks with millions of runs (the adversarial case: a
1 px checkerboard, one run per pixel; noise: runs of 1-20 pixels), with time and peak memory:
tracemalloc for decode_rle and decode_rle_scaled, and for both decoders the growth of the
peak resident size of a fresh process that only reads the counts and decodes them
(pycocotools allocates in C, out of tracemalloc's sight).

Run: .venv/bin/python bench/bench_masks.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pycocotools.mask as coco

from bot.masks import decode_rle, decode_rle_scaled, encode_rle

HEIGHT, WIDTH = 2160, 3840
REPEATS = 30


def several_objects(seed: int = 1, ragged: bool = True) -> np.ndarray:
    """One mask holding several objects: ellipses, a ring, thin bars and (if ``ragged``) a blob
    with a noisy boundary, like a segmentation of hair or foliage (many short runs)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[:HEIGHT, :WIDTH]
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    for _ in range(4):
        cx, cy = rng.integers(400, WIDTH - 400), rng.integers(300, HEIGHT - 300)
        rx, ry = rng.integers(150, 700), rng.integers(120, 500)
        mask |= ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1
    ring = (xx - 2900) ** 2 + (yy - 600) ** 2
    mask |= (ring < 350**2) & (ring > 250**2)
    blob = ((xx - 900) / 500.0) ** 2 + ((yy - 1600) / 350.0) ** 2
    if ragged:
        mask |= blob < 1 + 0.15 * rng.standard_normal((HEIGHT, WIDTH))
    else:
        mask |= blob < 1
    mask[100:120, 200:3600] = True
    mask[:, 3700:3710] = True
    return mask.astype(np.uint8)


def timed_pair(
    ours: Callable[[], object], theirs: Callable[[], object], repeats: int = REPEATS
) -> tuple[float, float, float, float]:
    """Best and median milliseconds of each, measured alternately so that load from other
    processes hits both sides alike. Returns (ours_best, ours_median, theirs_best, ...)."""
    ours()
    theirs()
    ours_s: list[float] = []
    theirs_s: list[float] = []
    for _ in range(repeats):
        for func, samples in ((ours, ours_s), (theirs, theirs_s)):
            start = time.perf_counter()
            func()
            samples.append((time.perf_counter() - start) * 1e3)
    return min(ours_s), statistics.median(ours_s), min(theirs_s), statistics.median(theirs_s)


def report(
    label: str, other: str, figures: tuple[float, float, float, float], target: str = ""
) -> None:
    ob, om, tb, tm = figures
    print(
        f"{label:<28} best {ob:7.2f} ms (median {om:7.2f})   {other:<34} best {tb:7.2f} ms"
        f" (median {tm:7.2f})   ratio {ob / tb:.3f} (median {om / tm:.3f}) {target}"
    )


def main() -> None:
    # pycocotools 2.0.x warns under numpy 2 on every decode; keep the output readable.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for ragged in (False, True):
        run_case(several_objects(ragged=ragged), "ragged edges" if ragged else "smooth edges")
        print()
    run_per_object_case()
    print()
    for kind in ("checkerboard", "noise"):
        run_many_runs_case(kind)
        print()


def many_runs(kind: str) -> np.ndarray:
    if kind == "checkerboard":
        yy, xx = np.indices((HEIGHT, WIDTH))
        return ((yy + xx) % 2).astype(np.uint8)
    return (np.random.default_rng(5).random((HEIGHT, WIDTH)) < 0.5).astype(np.uint8)


# Run in a fresh interpreter: read the counts, note the peak RSS, decode, note it again.
_RSS_PROBE = """
import sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
import pycocotools.mask as coco
from bot.masks import decode_rle

def peak_kib():
    # VmHWM belongs to this process image (getrusage's maxrss also counts the parent's peak).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

counts = open(sys.argv[2], "rb").read()
size = [int(sys.argv[3]), int(sys.argv[4])]
before = peak_kib()
if sys.argv[1] == "ours":
    decode_rle({"size": size, "counts": counts.decode("ascii")})
else:
    coco.decode({"size": size, "counts": counts})
print(peak_kib() - before)
"""


def peak_rss_growth_mib(which: str, counts_file: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, which, str(counts_file), str(HEIGHT), str(WIDTH)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return int(out.stdout.strip()) / 1024


def run_many_runs_case(kind: str) -> None:
    mask = many_runs(kind)
    coco_rle = coco.encode(np.asfortranarray(mask))
    rle = {"size": [HEIGHT, WIDTH], "counts": coco_rle["counts"].decode("ascii")}
    assert np.array_equal(decode_rle(rle), coco.decode(coco_rle))
    runs = int(np.count_nonzero(np.diff(mask.T.ravel()))) + 1
    print(
        f"many runs, {kind}: mask {WIDTH}x{HEIGHT}, {runs} runs, counts {len(rle['counts'])} chars"
    )
    report(
        "decode_rle",
        "pycocotools.mask.decode",
        timed_pair(lambda: decode_rle(rle), lambda: coco.decode(coco_rle), 10),
    )
    traced = traced_peak_mib(lambda: decode_rle(rle))
    scaled_peak = traced_peak_mib(lambda: decode_rle_scaled(rle, 1280, 720))
    report(
        "decode_rle_scaled 1280x720",
        "pycocotools.mask.decode (full)",
        timed_pair(lambda: decode_rle_scaled(rle, 1280, 720), lambda: coco.decode(coco_rle), 10),
    )
    with tempfile.TemporaryDirectory() as folder:
        counts_file = Path(folder) / "counts.txt"
        counts_file.write_bytes(coco_rle["counts"])
        ours_rss = peak_rss_growth_mib("ours", counts_file)
        theirs_rss = peak_rss_growth_mib("coco", counts_file)
    print(
        f"{'peak memory':<28} decode_rle {traced:6.0f} MiB traced, {ours_rss:6.0f} MiB RSS growth"
        f"   pycocotools {theirs_rss:6.0f} MiB RSS growth   (the mask itself: "
        f"{HEIGHT * WIDTH / 2**20:.0f} MiB)"
    )
    print(f"{'peak memory, board size':<28} decode_rle_scaled {scaled_peak:6.1f} MiB traced")


def traced_peak_mib(action: Callable[[], object]) -> float:
    """Peak Python-visible allocation (tracemalloc) of one call, in MiB."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def per_object_masks(seed: int = 3) -> dict[str, np.ndarray]:
    """One mask per object, like Kling's rle_mask_list: shapes of real scenes on a 4K frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[:HEIGHT, :WIDTH]
    body = ((xx - 1200) / 330.0) ** 2 + ((yy - 1350) / 700.0) ** 2 < 1
    hair = 170 + 25 * rng.standard_normal((HEIGHT, WIDTH))
    head = (xx - 1200) ** 2 + (yy - 560) ** 2 < hair**2
    car = (yy > 1400) & (yy < 1900) & (xx > 2200) & (xx < 3500) & (yy - 1400 > (xx - 2200) / 8)
    ball = (xx - 2900) ** 2 + (yy - 700) ** 2 < 220**2
    foliage = ((xx - 3300) / 450.0) ** 2 + ((yy - 500) / 380.0) ** 2 < (
        1 + 0.3 * rng.standard_normal((HEIGHT, WIDTH))
    )
    pole = (xx > 1900) & (xx < 1912) & (yy > 200)
    return {
        "person (ragged hair)": body | head,
        "car": car,
        "ball": ball,
        "foliage (noisy edge)": foliage,
        "thin pole": pole,
    }


def run_per_object_case() -> None:
    print(f"one mask per object, {WIDTH}x{HEIGHT} (ms best / median; traced peak MiB)")
    ratios: list[float] = []
    scaled: list[float] = []
    for name, mask in per_object_masks().items():
        mask = mask.astype(np.uint8)
        rle = encode_rle(mask)
        coco_rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
        assert np.array_equal(decode_rle(rle), coco.decode(coco_rle))
        full = timed_pair(lambda r=rle: decode_rle(r), lambda c=coco_rle: coco.decode(c), 10)
        small = timed_pair(
            lambda r=rle: decode_rle_scaled(r, 1280, 720), lambda c=coco_rle: coco.decode(c), 10
        )
        peak = traced_peak_mib(lambda r=rle: decode_rle(r))
        small_peak = traced_peak_mib(lambda r=rle: decode_rle_scaled(r, 1280, 720))
        ratios.append(full[1] / full[3])
        scaled.append(small[1])
        print(
            f"  {name:<22} {mask.mean():6.1%} {len(rle['counts']):>7} chars   decode_rle "
            f"{full[0]:6.2f} / {full[1]:6.2f} ({peak:5.1f} MiB)   at 1280x720 {small[0]:6.2f} /"
            f" {small[1]:6.2f} ({small_peak:4.1f} MiB)   pycocotools {full[2]:6.2f} / "
            f"{full[3]:6.2f}   ratio {full[1] / full[3]:.3f}"
        )
    print(
        f"  decode_rle / pycocotools (medians): median object {statistics.median(ratios):.3f}, "
        f"worst object {max(ratios):.3f}; board-size decode: median "
        f"{statistics.median(scaled):.2f} ms, worst {max(scaled):.2f} ms"
    )


def run_case(mask: np.ndarray, name: str) -> None:
    rle = encode_rle(mask)
    coco_rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    assert rle["counts"] == coco.encode(np.asfortranarray(mask))["counts"].decode("ascii")
    assert np.array_equal(decode_rle(rle), coco.decode(coco_rle))
    runs = len(rle["counts"])
    print(f"{name}: mask {WIDTH}x{HEIGHT}, {mask.mean():.1%} selected, counts {runs} chars")

    coco_decode = lambda: coco.decode(coco_rle)  # noqa: E731
    report(
        "decode_rle",
        "pycocotools.mask.decode",
        timed_pair(lambda: decode_rle(rle), coco_decode),
        "target <= 1.0",
    )
    report(
        "decode_rle + C order",
        "pycocotools.mask.decode",
        timed_pair(lambda: np.ascontiguousarray(decode_rle(rle)), coco_decode),
    )
    report(
        "decode_rle_scaled 1280x720",
        "pycocotools.mask.decode (full)",
        timed_pair(lambda: decode_rle_scaled(rle, 1280, 720), coco_decode),
    )
    fortran = np.asfortranarray(mask)
    report(
        "encode_rle (C-order input)",
        "pycocotools encode (F-order input)",
        timed_pair(lambda: encode_rle(mask), lambda: coco.encode(fortran), 10),
    )
    report(
        "encode_rle (C-order input)",
        "pycocotools encode + asfortranarray",
        timed_pair(lambda: encode_rle(mask), lambda: coco.encode(np.asfortranarray(mask)), 10),
    )


if __name__ == "__main__":
    main()
