"""What the web picker's page draws: the plain frame at board size, and each object's mask as a
small transparent overlay cropped to the object, drawn over it by the page.

The frame never changes with the marks, so a page downloads and decodes it once and keeps it;
a mark only brings the overlays of its frame (a few KB), which the mark's answer carries. The
overlays are the board's own mask layers (:func:`bot.render.board.mask_layers`: same fill,
outline, halo and colours chosen against the frame), encoded as lossless WebP (for a typical
object 2-3x faster to encode than PNG at level 1, and smaller).

The frame is the board's own board-size copy (kept in memory and as a raw array on disk by
`bot.editing.board_cache`), so no full-resolution PNG is decoded. Overlays are keyed by what
they show (the frame and its masks as Kling returned them), not by the session's version: a
change on one frame leaves every other frame's overlays as they were, so the pages watching
other frames, which all ask again when anything changes, are served from the cache. Requests
for something being drawn wait for that drawing instead of starting their own.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from PIL import Image

from bot.editing.board_cache import board_digest, board_frame
from bot.editing.boards import drawable_masks, session_dir
from bot.render.board import BOARD_LONG_SIDE, mask_layers
from bot.render.encoding import encode_image

FRAMES_KEPT = 48
OVERLAYS_KEPT = 256
JPEG_QUALITY = 88

Drawn = TypeVar("Drawn")
Overlays = dict[str, Any]  # {"width", "height", "overlays": [{"box": [l, t, r, b], "webp": b64}]}


def _frame(video: Path, cache_dir: Path, index: int) -> tuple[Image.Image, np.ndarray]:
    """Frame `index` at board size (the board's own copy) as a picture, and its pixels."""
    pixels = board_frame(video, cache_dir, index, BOARD_LONG_SIDE)
    return Image.fromarray(pixels), pixels


def render_frame(video: Path, cache_dir: Path, index: int) -> bytes:
    """JPEG of frame `index` at board size, without masks or points."""
    # 4:2:0 chroma: half the encoding (and the browser's decoding) of 4:4:4; there is no text
    # on this picture for full-resolution colour to keep sharp.
    frame = _frame(video, cache_dir, index)[0]
    return encode_image(frame, "JPEG", quality=JPEG_QUALITY, subsampling=2)


def render_overlays(video: Path, cache_dir: Path, index: int, masks: Sequence[Any]) -> Overlays:
    """Frame `index`'s masks as the board draws them, one lossless WebP per object, with its
    box in the board-size frame's pixels."""
    frame, pixels = _frame(video, cache_dir, index)
    layers = mask_layers(frame, drawable_masks(masks), pixels)
    overlays = []
    for layer in layers:
        buffer = io.BytesIO()
        # Lossless "quality" is the encoder's effort: the least is plenty for flat layers.
        layer.image.save(buffer, format="WEBP", lossless=True, quality=0, method=0)
        overlays.append(
            {"box": list(layer.box), "webp": base64.b64encode(buffer.getvalue()).decode("ascii")}
        )
    return {"width": frame.width, "height": frame.height, "overlays": overlays}


class _Drawings(Generic[Drawn]):
    """Drawn things by key; the oldest go first. One drawing per key: concurrent requests for
    it share it."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, Drawn] = OrderedDict()
        self._drawing: dict[Hashable, asyncio.Future[Drawn]] = {}
        self.drawings = 0  # drawn (not served from the cache or another's drawing)

    async def get(self, key: Hashable, draw: Callable[[], Drawn]) -> Drawn:
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
            return found
        drawing = self._drawing.get(key)
        if drawing is None:
            drawing = asyncio.ensure_future(asyncio.to_thread(draw))
            self._drawing[key] = drawing
            drawing.add_done_callback(lambda done: self._drawn(key, done))
            self.drawings += 1
        # shield: a page that goes away does not cancel the drawing others wait for.
        return await asyncio.shield(drawing)

    def _drawn(self, key: Hashable, done: asyncio.Future[Drawn]) -> None:
        self._drawing.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return  # nothing kept: the next request tries again
        self._kept[key] = done.result()
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)


class PictureCache:
    """The pages' frames and overlays. MediaError or OSError when a frame cannot be read."""

    def __init__(self, media_dir: Path) -> None:
        self._media_dir = media_dir
        self.frames: _Drawings[bytes] = _Drawings(FRAMES_KEPT)
        self.overlays: _Drawings[Overlays] = _Drawings(OVERLAYS_KEPT)

    def _cache_dir(self, session_id: int) -> Path:
        return session_dir(self._media_dir, session_id) / "frames"

    async def frame(self, *, session_id: int, video: Path, frame: int) -> bytes:
        cache_dir = self._cache_dir(session_id)
        return await self.frames.get(
            (str(cache_dir), frame), lambda: render_frame(video, cache_dir, frame)
        )

    async def masks(
        self, *, session_id: int, video: Path, frame: int, masks: Sequence[Any]
    ) -> Overlays:
        cache_dir = self._cache_dir(session_id)
        key = board_digest(str(cache_dir), frame, list(masks), "web overlays")
        return await self.overlays.get(key, lambda: render_overlays(video, cache_dir, frame, masks))
