"""The zoom picker's pictures from a session: cells of one frame read that frame once."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from bot.editing.board_cache import flush_writes
from bot.editing.boards import session_dir
from bot.editing.picking import build_picker
from bot.grid import CellRef
from bot.media import FrameExtractor
from tests.bot.editing.conftest import BALL, BALL_CENTRE, Rig


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def take_away(frames: Path, video: Path) -> None:
    # The first picker's frame is still on its way into the cache folder; removing the folder
    # under that write would race it.
    flush_writes()
    shutil.rmtree(frames)
    video.rename(video.with_suffix(".gone"))


async def test_cells_of_one_frame_are_cut_from_one_reading_of_it(rig: Rig) -> None:
    session_id = await rig.open()
    session = await rig.store.get_session(session_id)
    assert session is not None and session.local_path
    ball = CellRef(int(BALL_CENTRE[0] * 5), int(BALL_CENTRE[1] * 5))  # the cell around the ball
    first = await build_picker(rig.store, session, rig.media_dir, frame_index=7, cell=CellRef(0, 0))
    source = FrameExtractor(Path(session.local_path)).get(7)
    # Neither the frame cache nor the video are there any more: the next cell of frame 7 comes
    # from the frame already read, still at full resolution (the ball's own pixels, enlarged).
    take_away(session_dir(rig.media_dir, session_id) / "frames", Path(session.local_path))
    zoomed = await build_picker(rig.store, session, rig.media_dir, frame_index=7, cell=ball)
    assert zoomed.image != first.image and zoomed.cell == ball
    image = decoded(zoomed.image)
    left, top = ball.column / 5 * source.width, ball.row / 5 * source.height
    box = (left, top, left + source.width / 5, top + source.height / 5)
    expected = np.asarray(
        source.resize((image.shape[1], image.shape[0]), Image.Resampling.BICUBIC, box=box),
        dtype=np.int16,
    )
    assert np.median(np.abs(image - expected).mean(axis=2)) <= 4
    assert (np.abs(image - np.array(BALL)).max(axis=2) < 40).mean() > 0.2  # the ball is there
