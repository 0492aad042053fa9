"""The picture the web picker shows: one frame at board size with its masks filled in and the
numbered points, but no grid or caption (people click on it, so nothing may hide the object).

The frame is the board's own board-size copy (kept in memory and as a raw array on disk by
`bot.editing.board_cache`), so no full-resolution PNG is decoded. A picture is keyed by what it
shows (the frame, its masks as Kling returned them, the points drawn), not by the session's
version: a change on one frame leaves every other frame's picture as it was, so the members
watching other frames, whose pages all ask again when anything changes, are served from the
cache. Requests for a picture that is being drawn wait for that drawing instead of starting
their own, and a mark starts drawing its frame's picture before it answers (`warm`), so the
page's request that follows usually finds it drawn or on its way.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bot.editing.board_cache import board_digest, board_frame
from bot.editing.boards import session_dir
from bot.render.board import BOARD_LONG_SIDE, POINT_FILL, display_size, paint_masks

log = logging.getLogger(__name__)

CACHE_SIZE = 48
JPEG_QUALITY = 88


def draw_points(image: Image.Image, points: Sequence[tuple[int, float, float]]) -> None:
    """Numbered white dots with a dark ring, as on the board."""
    draw = ImageDraw.Draw(image, "RGBA")
    width, height = image.size
    radius = max(9, round(min(width, height) / 45))
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(
            size=max(10, round(radius * 1.2))
        )
    except (ImportError, OSError, TypeError):  # Pillow without FreeType
        font = ImageFont.load_default()
    for number, x, y in points:
        cx, cy = x * width, y * height
        draw.ellipse(
            (cx - radius, cy - radius, cx + radius, cy + radius),
            fill=(*POINT_FILL, 255),
            outline=(0, 0, 0, 255),
            width=max(2, radius // 5),
        )
        draw.text((cx, cy), str(number), font=font, fill=(0, 0, 0, 255), anchor="mm")


def render_picture(
    video: Path,
    cache_dir: Path,
    index: int,
    masks: Sequence[Any],
    points: Sequence[tuple[int, float, float]],
) -> bytes:
    """JPEG of frame `index` (longest side BOARD_LONG_SIDE) with masks and numbered points."""
    frame = board_frame(video, cache_dir, index, BOARD_LONG_SIDE)
    size = display_size(*frame.size, BOARD_LONG_SIDE)
    # The board-size frame is shared: draw on a copy.
    image = frame.resize(size, Image.Resampling.BILINEAR) if frame.size != size else frame.copy()
    paint_masks(
        image,
        [
            (int(m.get("object_id", 0)), m["rle_mask"])
            for m in masks
            if isinstance(m, dict) and isinstance(m.get("rle_mask"), dict)
        ],
    )
    draw_points(image, points)
    buffer = io.BytesIO()
    # 4:2:0 chroma: half the encoding (and the browser's decoding) of 4:4:4; there is no text
    # on this picture for full-resolution colour to keep sharp.
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=2)
    return buffer.getvalue()


class PictureCache:
    """Rendered pictures by what they show; the oldest go first. One drawing per picture:
    concurrent requests for it share it."""

    def __init__(self, media_dir: Path, size: int = CACHE_SIZE) -> None:
        self._media_dir = media_dir
        self._size = size
        self._pictures: OrderedDict[bytes, bytes] = OrderedDict()
        self._drawing: dict[bytes, asyncio.Future[bytes]] = {}
        self._warming: set[asyncio.Task[bytes]] = set()  # held until done (the loop does not)
        self.drawings = 0  # pictures drawn (not served from the cache or another's drawing)

    async def get(
        self,
        *,
        session_id: int,
        video: Path,
        frame: int,
        masks: Sequence[Any],
        points: Sequence[tuple[int, float, float]] = (),
    ) -> bytes:
        """The page draws the numbered points itself (sized for the screen): none by default.
        MediaError or OSError when the frame cannot be read."""
        cache_dir = session_dir(self._media_dir, session_id) / "frames"
        key = board_digest(str(cache_dir), frame, list(masks), ["web", list(points)])
        found = self._pictures.get(key)
        if found is not None:
            self._pictures.move_to_end(key)
            return found
        drawing = self._drawing.get(key)
        if drawing is None:
            drawing = asyncio.ensure_future(
                asyncio.to_thread(render_picture, video, cache_dir, frame, masks, points)
            )
            self._drawing[key] = drawing
            drawing.add_done_callback(lambda done: self._drawn(key, done))
            self.drawings += 1
        # shield: a page that goes away does not cancel the drawing others wait for.
        return await asyncio.shield(drawing)

    def warm(
        self, *, session_id: int, video: Path, frame: int, masks: Sequence[Any]
    ) -> asyncio.Task[bytes]:
        """Start drawing a picture a page is about to ask for (after a change it made)."""
        task = asyncio.create_task(
            self.get(session_id=session_id, video=video, frame=frame, masks=masks),
            name=f"picker picture {session_id}:{frame}",
        )
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)
        task.add_done_callback(_quiet)
        return task

    def _drawn(self, key: bytes, done: asyncio.Future[bytes]) -> None:
        self._drawing.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return  # nothing kept: the next request tries again
        self._pictures[key] = done.result()
        while len(self._pictures) > self._size:
            self._pictures.popitem(last=False)


def _quiet(task: asyncio.Task[bytes]) -> None:
    # A picture drawn ahead that fails fails again, and is reported, when the page asks for it.
    if not task.cancelled() and task.exception() is not None:
        log.debug("picker picture drawn ahead failed", exc_info=task.exception())
