"""The heartbeat file behind `kling-bot health` (the Docker HEALTHCHECK).

The running bot rewrites a small JSON file next to its database every few seconds and whenever
its gateway connection comes or goes; `kling-bot health` reads it. A file keeps the check free
of network ports and works the same inside a container and on a plain machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_NAME = "heartbeat.json"
HEARTBEAT_SECONDS = 15.0
# Three missed beats: the process is stuck or gone.
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


def heartbeat_path(database: Path) -> Path:
    return database.parent / HEARTBEAT_NAME


def write_heartbeat(
    path: Path, *, connected: bool, servers: int = 0, clock: Callable[[], float] = time.time
) -> None:
    """Replace the file atomically, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"connected": connected, "time": clock(), "pid": os.getpid(), "servers": servers}
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload))
    os.replace(temporary, path)


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str


def check_heartbeat(
    path: Path, *, stale_after: float = STALE_AFTER_SECONDS, clock: Callable[[], float] = time.time
) -> Health:
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        return Health(False, f"no heartbeat at {path}: the bot is not running (or still starting)")
    except (OSError, ValueError):
        return Health(False, f"the heartbeat at {path} cannot be read")
    if not isinstance(payload, dict):
        return Health(False, f"the heartbeat at {path} cannot be read")
    stamp = payload.get("time")
    age = clock() - stamp if isinstance(stamp, int | float) else float("inf")
    if age > stale_after:
        return Health(False, f"the last heartbeat is {age:.0f} s old: the bot is stuck or stopped")
    if payload.get("connected") is not True:
        return Health(False, "the bot is running but not connected to Discord")
    return Health(True, f"connected to Discord ({payload.get('servers', 0)} servers)")
