"""The picture the web picker shows: one frame at board size with its masks filled in and the
numbered points, but no grid or caption (people click on it, so nothing may hide the object).

Rendered in a worker thread and kept in a small cache keyed by the session's version, so members
moving back and forth between frames do not decode and paint the same frame twice.
"""

from __future__ import annotations

import asyncio
import io
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bot.editing.board_cache import full_frame
from bot.editing.boards import session_dir
from bot.render.board import BOARD_LONG_SIDE, POINT_FILL, display_size, paint_masks

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
    frame = full_frame(video, cache_dir, index).convert("RGB")
    size = display_size(*frame.size, BOARD_LONG_SIDE)
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
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return buffer.getvalue()


class PictureCache:
    """Rendered pictures by (session, frame, version); the oldest go first."""

    def __init__(self, media_dir: Path, size: int = CACHE_SIZE) -> None:
        self._media_dir = media_dir
        self._size = size
        self._pictures: OrderedDict[tuple[int, int, str], bytes] = OrderedDict()

    async def get(
        self,
        *,
        session_id: int,
        video: Path,
        frame: int,
        version: str,
        masks: Sequence[Any],
        points: Sequence[tuple[int, float, float]] = (),
    ) -> bytes:
        """The page draws the numbered points itself (sized for the screen): none by default."""
        key = (session_id, frame, version)
        found = self._pictures.get(key)
        if found is not None:
            self._pictures.move_to_end(key)
            return found
        cache_dir = session_dir(self._media_dir, session_id) / "frames"
        picture = await asyncio.to_thread(render_picture, video, cache_dir, frame, masks, points)
        self._pictures[key] = picture
        while len(self._pictures) > self._size:
            self._pictures.popitem(last=False)
        return picture
