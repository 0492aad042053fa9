"""`kling-bot` under tracemalloc, for bench_load.py (BENCH_TRACEMALLOC=report.txt).

A watcher thread takes a snapshot whenever the memory Python traces reaches a new high (checked
every half second); when the bot stops, the biggest allocation sites of the highest snapshot are
written to the file, with the process's resident memory at that moment. Memory that C libraries
allocate without telling Python (PyAV's decoders, Pillow's image buffers) is not traced: compare
the traced total with the RSS.
"""

from __future__ import annotations

import atexit
import os
import runpy
import threading
import tracemalloc
from pathlib import Path

FRAMES = 12
TOP = 30


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Watcher:
    def __init__(self) -> None:
        self.best = 0
        self.snapshot: tracemalloc.Snapshot | None = None
        self.rss = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            current, _peak = tracemalloc.get_traced_memory()
            if current > self.best * 1.05:
                self.best, self.rss = current, rss_mib()
                self.snapshot = tracemalloc.take_snapshot()

    def write(self, path: Path) -> None:
        self.stop.set()
        _current, peak = tracemalloc.get_traced_memory()
        lines = [
            f"traced at the highest snapshot: {self.best / 2**20:.1f} MiB "
            f"(RSS then {self.rss:.0f} MiB); traced peak {peak / 2**20:.1f} MiB"
        ]
        if self.snapshot is not None:
            snapshot = self.snapshot.filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            for stat in snapshot.statistics("traceback")[:TOP]:
                lines.append(f"\n{stat.size / 2**20:.2f} MiB in {stat.count} blocks")
                lines.extend("    " + line for line in stat.traceback.format(limit=FRAMES))
        path.write_text("\n".join(lines) + "\n")


def main() -> None:
    tracemalloc.start(FRAMES)
    watcher = Watcher()
    threading.Thread(target=watcher.run, name="tracemalloc-watcher", daemon=True).start()
    atexit.register(watcher.write, Path(os.environ["BENCH_TRACEMALLOC"]))
    runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
