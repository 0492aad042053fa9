"""How the C allocator treats the big, short-lived buffers of frame decodes and board drawings.

A board drawing allocates a few large buffers (a decoded frame: 2.6 MiB at 720p, 25 MiB at 4K
as RGB; the board; its masks) in a worker thread and frees them a few milliseconds later. With
glibc's defaults two things keep that memory resident after it is freed:

- the mmap threshold moves up: glibc serves a block bigger than 128 KiB with its own mmap (given
  back to the system on free), but each such free raises the threshold to that block's size, so
  after the first few frames every frame buffer comes from a heap arena instead, and a freed
  arena block stays in the process unless it happens to sit at the arena's top;
- every thread that allocates gets an arena of its own (up to 8 per core): drawings, decoder
  threads and the default executor each fragment a heap of their own.

Measured under bench/bench_load.py (200 members), the bot's Python objects were 49-65 MiB while
its resident memory reached 330-400 MiB. Fixing the threshold at 1 MiB (every frame, board and
mask buffer is then mapped and unmapped on its own) and allowing two arenas keeps the resident
memory close to what is in use. Only glibc has these settings; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["tune_allocator"]

log = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 1 << 20
ARENA_MAX = 2


def tune_allocator() -> bool:
    """Set the allocator up for the bot (call once at start, before threads exist); True when
    glibc took the settings."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): its allocator has no such settings
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_ARENA_MAX, ARENA_MAX)
    )
    if not done:
        log.debug("mallopt refused the allocator settings")
    return done
