"""Checks made before the bot connects anywhere, so a start fails in one line, not mid-way.

A storage folder the bot cannot create or write would otherwise be found only after logging in
to Discord (when the database opens), with a traceback; in Docker it is the usual first mistake
(a bind-mounted host folder owned by another user).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bot.config import Config


def _user() -> str:
    return f"uid {os.geteuid()}" if hasattr(os, "geteuid") else "this user"


def _nearest_existing(folder: Path) -> Path | None:
    """`folder` or its closest existing parent (None when even that cannot be looked at)."""
    for path in (folder, *folder.parents):
        try:
            if path.exists():
                return path
        except OSError:  # e.g. a parent that may not be searched: mkdir will say why
            return None
    return None


def folder_problem(folder: Path, what: str, key: str) -> str | None:
    """Why the bot could not keep files in `folder` (created when missing), or None."""
    # A file where a folder should be, on the way to `folder` or `folder` itself.
    blocker = _nearest_existing(folder)
    if blocker == folder and not folder.is_dir():
        return f"{what} {folder} exists but is not a folder: remove it or change {key}"
    if blocker is not None and not blocker.is_dir():
        return (
            f"cannot create the {what} {folder}: {blocker} is a file, not a folder: move "
            f"the file away or change {key}"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"{what} {folder} exists but is not a folder: remove it or change {key}"
    except OSError as error:
        return (
            f"cannot create the {what} {folder} ({error.strerror or error}): create it and "
            f"give {_user()} write access, or change {key}"
        )
    try:
        # The real thing: file-mode bits say little about ACLs, read-only mounts or root.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return (
            f"the {what} {folder} is not writable by {_user()} "
            f"({error.strerror or error}): give that user write access (in Docker, the "
            f"owner of the bind-mounted folder), or change {key}"
        )
    return None


def database_problem(db: Path) -> str | None:
    """Why the bot could not use the database file `db` (missing is fine: it is created)."""
    if not db.exists():
        return None
    if db.is_dir():
        return f"the database {db} is a folder: [storage] path must name a file"
    if not os.access(db, os.R_OK | os.W_OK):
        return (
            f"the database {db} is not readable and writable by {_user()}: "
            "fix its owner or permissions"
        )
    return None


def storage_problems(config: Config) -> list[str]:
    """The database folder, the database file and the media folder, each usable or named."""
    storage = config.storage
    problems = [
        problem
        for problem in (
            folder_problem(storage.path.parent, "storage folder", "[storage] path"),
            folder_problem(storage.media_dir, "media folder", "[storage] media_dir"),
        )
        if problem
    ]
    # With PostgreSQL the folder keeps only the heartbeat; the SQLite file is not used.
    if not problems and storage.url is None and (problem := database_problem(storage.path)):
        problems.append(problem)
    return problems
