"""`kling-bot backup DEST`: a consistent copy of the SQLite database, taken while the bot runs.

The bot keeps its database in WAL mode, so copying the file alone can miss committed rows that
still sit in the -wal file, and a copy made mid-write can be torn. SQLite's online backup API
reads one snapshot inside a read transaction, which never blocks the bot's writers in WAL mode.
The copy is written next to DEST under a temporary name and renamed at the end, so DEST is
either the whole backup or absent; it is switched to a rollback journal so it is one
self-contained file (the bot turns WAL back on when it opens a restored copy).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

COUNTED_TABLES = ("sessions", "jobs")
BUSY_TIMEOUT_SECONDS = 30.0


class BackupError(Exception):
    """The backup was not made; the message says why and what to do."""


@dataclass(frozen=True)
class BackupReport:
    dest: Path
    size_bytes: int
    tables: int
    rows: dict[str, int]

    def lines(self) -> list[str]:
        counts = ", ".join(f"{name}: {count} rows" for name, count in self.rows.items())
        return [
            f"wrote {self.dest} ({_size(self.size_bytes)}), integrity check ok",
            f"{self.tables} tables; {counts}",
        ]


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def backup_database(source: Path, dest: Path, *, force: bool = False) -> BackupReport:
    """Copy `source` to `dest` with sqlite3's backup API; raise BackupError when it cannot."""
    if not source.is_file():
        raise BackupError(f"no database at {source}: check [storage] path (nothing to back up)")
    if dest.is_dir():
        raise BackupError(
            f"{dest} is a folder: give the backup's file name, e.g. "
            f"{dest / 'kling-bot-backup.sqlite3'}"
        )
    if dest.exists() and not force:
        raise BackupError(
            f"{dest} already exists: choose another name, or add --force to replace it"
        )
    if not dest.parent.is_dir():
        raise BackupError(f"the folder {dest.parent} does not exist: create it first")
    if dest.resolve() == source.resolve():
        raise BackupError("the backup cannot replace the database itself: choose another DEST")
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        _copy(source, partial)
        report = _inspect(partial)
        partial.replace(dest)
    except sqlite3.Error as exc:
        raise BackupError(
            f"the backup failed ({exc}): check that {source} is a kling-bot "
            "database and that the destination has room"
        ) from None
    except OSError as exc:
        raise BackupError(
            f"cannot write {dest} ({exc.strerror or exc}): check the folder exists and is writable"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return BackupReport(dest, dest.stat().st_size, report[0], report[1])


def _copy(source: Path, partial: Path) -> None:
    # mode=rw: never create an empty database where the real one was expected.
    src = sqlite3.connect(
        f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_SECONDS
    )
    try:
        dst = sqlite3.connect(partial)
        try:
            # One step (pages=-1): a single read transaction, so the copy is one snapshot. Copying
            # in steps would restart whenever the bot commits in between.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _inspect(path: Path) -> tuple[int, dict[str, int]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check of the copy failed: {verdict}")
        names = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        rows = {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608
            for name in COUNTED_TABLES
            if name in names
        }
        return len(names), rows
    finally:
        conn.close()
