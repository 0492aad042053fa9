"""Media retention: delete downloaded and rendered media older than `[storage] retention_days`.

Everything under media_dir is the bot's own cache (source videos, frame caches, reference
images, result copies); the database and Discord hold what matters long-term. A file is removed
when it is older than the retention period and nothing in flight still needs it: active
sessions keep their source video and frame cache, unfinished jobs their images and result.
The emulator's working folder belongs to the emulator and is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.editing.boards import session_dir
from bot.storage import Store

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 6 * 3600
_SKIPPED_FOLDERS = ("emulator",)


@dataclass(frozen=True)
class SweepReport:
    files_removed: int
    bytes_freed: int
    results_forgotten: int


def _old_files(
    media_dir: Path, cutoff: float, keep: set[Path], keep_dirs: set[Path]
) -> list[tuple[Path, int]]:
    found: list[tuple[Path, int]] = []
    for root, dirs, files in os.walk(media_dir):
        here = Path(root)
        dirs[:] = [
            d
            for d in dirs
            if here / d not in keep_dirs and not (here == media_dir and d in _SKIPPED_FOLDERS)
        ]
        for name in files:
            path = here / name
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if stat.st_mtime < cutoff and path not in keep:
                found.append((path, stat.st_size))
    return found


def _remove(files: list[tuple[Path, int]], media_dir: Path) -> tuple[set[Path], int]:
    removed: set[Path] = set()
    freed = 0
    for path, size in files:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.add(path)
        freed += size
    # Folders emptied by the sweep (a finished job's images, an ended session's frames).
    for folder in sorted({p.parent for p in removed}, key=lambda p: len(p.parts), reverse=True):
        while folder != media_dir and folder.is_relative_to(media_dir):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
    return removed, freed


def _sweep(
    media_dir: Path, cutoff: float, files: set[Path], active_sessions: set[int]
) -> tuple[set[Path], int]:
    media_dir = media_dir.resolve()
    if not media_dir.is_dir():
        return set(), 0
    keep = {p.resolve() for p in files}
    keep_dirs = {session_dir(media_dir, session_id) for session_id in active_sessions}
    return _remove(_old_files(media_dir, cutoff, keep, keep_dirs), media_dir)


async def sweep_media(
    store: Store, media_dir: Path, *, retention_days: int, now: float | None = None
) -> SweepReport:
    """Remove media older than `retention_days` that nothing in flight needs."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    files, active_sessions = await store.files_in_use()
    removed, freed = await asyncio.to_thread(
        _sweep, Path(media_dir), cutoff, files, active_sessions
    )
    results = await store.finished_results()
    gone = await asyncio.to_thread(
        lambda: [job_id for job_id, path in results if Path(path).resolve() in removed]
    )
    await store.forget_results(gone)
    if removed:
        log.info(
            "retention: removed %d files (%d bytes) older than %d days",
            len(removed),
            freed,
            retention_days,
        )
    return SweepReport(len(removed), freed, len(gone))


async def sweep_forever(
    store: Store,
    media_dir: Path,
    *,
    retention_days: int,
    interval: float = SWEEP_INTERVAL_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Sweep now and then every `interval` seconds until cancelled; a failed sweep is logged."""
    while True:
        try:
            await sweep_media(store, media_dir, retention_days=retention_days)
        except Exception:
            log.exception("retention sweep failed; trying again later")
        await sleep(interval)
