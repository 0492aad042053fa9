"""Where a benchmark run keeps its files (the clip, the bot's config, data and log, the
emulator's sessions): a new folder under the system's temporary directory, removed when the run
ends, whatever its outcome. BENCH_KEEP=1 keeps it, to read the logs (or py-spy's output)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def work_folder(prefix: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        # The emulator keeps every session's frames: gigabytes after a long run.
        if os.environ.get("BENCH_KEEP"):
            print(f"kept the run's files in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
