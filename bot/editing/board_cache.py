"""What a board redraw reuses: the frame already shrunk to board size, and encoded boards.

Reading a frame back from the full-resolution cache costs 35-40 ms at 1080p and 160 ms at 4K
(a PNG decode), several times the board's own drawing. A board only needs the frame at board
size (longest side about 1280 px), so that is what is kept: in memory, in a small LRU bounded
in bytes, and on disk next to the full-resolution frame as a raw ``.npy`` array (under a
millisecond to read back, where a PNG of the same frame takes 10-20 ms). Whatever the video's
size, a redraw then starts from the same 1280 px frame.

An encoded board is kept by a digest of everything drawn on it, so the same state (a board
asked for again, a frame visited again with the same points) is never drawn or encoded twice.
Renders run in worker threads, so both caches are guarded by a lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from PIL import Image

from bot.media import FrameExtractor, MediaError
from bot.render.board import BOARD_LONG_SIDE, display_size, shrink_frame

__all__ = [
    "BOARD_FRAMES",
    "ENCODED_BOARDS",
    "SizedLRU",
    "board_digest",
    "board_frame",
    "board_frame_path",
    "flush_writes",
    "frames_around",
    "full_frame",
    "prepare_board_frame",
    "prepare_later",
]

log = logging.getLogger(__name__)

Value = TypeVar("Value")

# ~4 boards' frames at 1280x720 (2.6 MiB each): the frames being marked right now. The others
# come back from disk (the .npy, usually still in the OS page cache, outside the bot's resident
# memory) in about a millisecond more, so a bigger budget would buy little for its memory.
BOARD_FRAME_BUDGET = 12 * 2**20
# Encoded boards are 150-300 KB (JPEG): the latest few dozen states.
ENCODED_BUDGET = 8 * 2**20


class SizedLRU(Generic[Value]):
    """A least-recently-used map bounded by the total size of its values, safe across threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Value, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Value | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Value, size: int) -> None:
        if size > self.max_bytes:
            return  # never worth evicting everything else for
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


BOARD_FRAMES: SizedLRU[np.ndarray] = SizedLRU(BOARD_FRAME_BUDGET)
# Frames made ready ahead of the drawings that will want them (a mark's frame while Kling works,
# the next frame of a decode) have a thread of their own: they never queue in front of a
# drawing that a member is waiting for.
_ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frame-ahead")
# A frame's (h, w, 3) RGB pixels, made when called (see frames_around).
Picture = Callable[[], np.ndarray]
# Board-size frames waiting for the disk (see _store_later): 4 at 1280x720 hold 10 MiB.
MAX_PENDING_WRITES = 4
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="board-frame-write")
_writes_lock = threading.Lock()
_unwritten: dict[Path, np.ndarray] = {}
ENCODED_BOARDS: SizedLRU[bytes] = SizedLRU(ENCODED_BUDGET)


def full_frame(video: Path, cache_dir: Path, index: int, *, keep: bool = True) -> Image.Image:
    """Frame ``index`` at video resolution, from the session's frame cache (decoded once;
    ``keep=False`` decodes without adding the full-resolution PNG to the cache)."""
    extractor = FrameExtractor(video, cache_dir)
    try:
        return extractor.get(index, keep=keep)
    except MediaError:
        # Kling's frame count comes from its normalised copy and may exceed ours by a frame or
        # two; show the nearest frame we do have rather than failing the whole board.
        for earlier in range(index - 1, max(index - 4, -1), -1):
            try:
                return extractor.get(earlier, keep=keep)
            except MediaError:
                continue
        raise


def board_frame_path(cache_dir: Path, index: int, long_side: int = BOARD_LONG_SIDE) -> Path:
    return cache_dir / f"board-{index:06d}-{long_side}.npy"


def board_frame(
    video: Path, cache_dir: Path, index: int, long_side: int = BOARD_LONG_SIDE
) -> np.ndarray:
    """Frame ``index`` shrunk so its longest side is ``long_side``: an (h, w, 3) RGB array,
    shared and read-only (``render_board`` draws on a picture made from it).

    Kept as an array, not a Pillow picture: it is 3 bytes a pixel rather than Pillow's 4, it
    goes to and comes from the disk without a conversion, and the board's mask colours are
    sampled from it directly."""
    key = (str(cache_dir), index, long_side)
    pixels = BOARD_FRAMES.get(key)
    if pixels is not None:
        return pixels
    path = board_frame_path(cache_dir, index, long_side)
    pixels = _load(path)
    if pixels is None:
        pixels = _from_video(video, cache_dir, index, long_side)
    BOARD_FRAMES.put(key, pixels, pixels.nbytes)
    return pixels


def prepare_board_frame(
    video: Path, cache_dir: Path, index: int, long_side: int = BOARD_LONG_SIDE
) -> None:
    """Make sure frame ``index`` at board size is on disk (or in memory), decoding it when it
    is not: run ahead of a drawing that will want it, such as the board of a mark, drawn when
    Kling answers 1-3 s later. The file is written here and now, not queued (a queued write can
    be dropped under load), and nothing is kept in memory. A frame that cannot be read is left
    for the drawing to report."""
    path = board_frame_path(cache_dir, index, long_side)
    with _writes_lock:
        waiting = path in _unwritten
    if (
        waiting
        or path.is_file()
        or BOARD_FRAMES.get((str(cache_dir), index, long_side)) is not None
    ):
        return
    try:
        found = frames_around(video, cache_dir, index)
    except MediaError:
        return
    for number, picture in found.items():
        _store_missing(board_frame_path(cache_dir, number, long_side), picture, long_side)


def prepare_later(video: Path, cache_dir: Path, index: int) -> None:
    """:func:`prepare_board_frame` on the thread that makes frames ready ahead of drawings,
    without waiting for it."""
    _ahead.submit(prepare_board_frame, video, cache_dir, index).add_done_callback(_report)


def _report(done: Future[None]) -> None:
    error = done.exception()
    if error is not None:  # a board draws the frame itself, and says what went wrong
        log.warning("could not make a frame ready ahead of its board", exc_info=error)


def _store_missing(path: Path, picture: Picture, long_side: int) -> None:
    if not path.is_file():
        _store(path, _shrunk(picture(), long_side))


def frames_around(video: Path, cache_dir: Path, index: int) -> dict[int, Picture]:
    """Frame ``index`` at video resolution with the next one from the same decode (see
    ``FrameExtractor.decoded_around``), each as the call that makes its RGB picture; only
    ``index`` when its full-resolution PNG is cached already (reading it is quicker than a
    decode); empty when ``index`` cannot be decoded."""
    extractor = FrameExtractor(video, cache_dir)
    cached = extractor.cache_path(index)
    if cached is not None and cached.is_file():
        pixels = np.asarray(extractor.get(index))
        return {index: lambda: pixels}
    try:
        decoded = extractor.decoded_around(index, after=1)
    except MediaError:
        return {}
    return {number: frame.pixels for number, frame in decoded.items()}


def _shrunk(frame: np.ndarray, long_side: int) -> np.ndarray:
    height, width = frame.shape[:2]
    size = display_size(width, height, long_side)
    # A frame already at board size (720p) is kept as decoded: no copy through a picture.
    pixels = frame if size == (width, height) else np.asarray(shrink_frame(frame, size))
    pixels.flags.writeable = False
    return pixels


def _from_video(video: Path, cache_dir: Path, index: int, long_side: int) -> np.ndarray:
    """Make the board-size frame ``index``, and those of its neighbours met on the way.

    The board keeps only its own copy at board size: encoding the full-resolution PNG too
    would be a third of a first drawing's time, for a file the board never reads. The next
    frame comes from the same decode for one more frame's decode (under a millisecond at 720p):
    ``▶ +1``, the usual way through a video, then starts from the disk copy instead of seeking
    and decoding from the keyframe again (16-22 ms at 720p, one keyframe group). Turning it
    into RGB and writing it (4-5 ms) is left to the thread that makes frames ready ahead, so
    the member waiting for ``index`` does not wait for it."""
    found = frames_around(video, cache_dir, index)
    if index not in found:
        pixels = np.asarray(full_frame(video, cache_dir, index, keep=False))  # raises if unreadable
        found = {index: lambda: pixels}
    pixels = _shrunk(found.pop(index)(), long_side)
    _store_later(board_frame_path(cache_dir, index, long_side), pixels)
    for number, picture in found.items():
        path = board_frame_path(cache_dir, number, long_side)
        _ahead.submit(_store_missing, path, picture, long_side).add_done_callback(_report)
    return pixels  # the full-size frames (25 MiB each at 4K) go before the board is drawn


def _load(path: Path) -> np.ndarray | None:
    with _writes_lock:
        waiting = _unwritten.get(path)
    if waiting is not None:
        return waiting
    try:
        array: np.ndarray = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # not there yet, or cut short (a full disk): made again from the frame
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        return None
    array.flags.writeable = False
    return array


def _store_later(path: Path, pixels: np.ndarray) -> None:
    """Write the board-size frame to disk on the writer thread, so the drawing that made it goes
    on at once (under load a write takes 3 ms of CPU and 15 ms in all, a third of a first
    drawing). Only a few wait at a time: each holds its frame, and the file is only a cache
    (a frame asked for again before its file is there is in memory, or is decoded again)."""
    with _writes_lock:
        if len(_unwritten) >= MAX_PENDING_WRITES or path in _unwritten:
            return
        _unwritten[path] = pixels  # found by _load until the file is there

    def write() -> None:
        try:
            _store(path, pixels)
        finally:
            with _writes_lock:
                del _unwritten[path]

    _writer.submit(write)


def flush_writes() -> None:
    """Wait for the board-size frames on their way to the disk so far (queued writes, and the
    frames being made ready ahead)."""
    _ahead.submit(lambda: None).result()
    _writer.submit(lambda: None).result()


def _store(path: Path, pixels: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half an array.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, pixels, allow_pickle=False)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # the memory copy still serves; the next process shrinks the frame again


def board_digest(scope: str, index: int, masks: list[Any], drawn: Any) -> bytes:
    """A key for everything a board image shows: the frame (``scope`` names the session's
    frame cache), its masks as Kling returned them, and ``drawn`` (points, grid, caption, format,
    any JSON-able value)."""
    payload = json.dumps(
        [scope, index, masks, drawn], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.blake2b(payload.encode(), digest_size=20).digest()
