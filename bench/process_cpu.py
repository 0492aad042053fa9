"""CPU time a process has used, all its threads together, in seconds (Linux).

The benchmarks run the bot as a child process on a shared machine: the wall-clock time of a
click includes waiting for a CPU, so they also report the bot's own CPU time per click, read
from the kernel's per-thread scheduler statistics (nanoseconds, where /proc/<pid>/stat counts
in 10 ms ticks).
"""

from __future__ import annotations

import os
from pathlib import Path


def process_cpu(pid: int) -> float:
    """Seconds of CPU used so far by the live threads of `pid` (the bot's worker threads live
    as long as the process, so no drawing is lost with an exited thread)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())
