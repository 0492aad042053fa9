"""The board image's caption is drawn in the server's language."""

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bot.editing import EditingService
from bot.editing.boards import build_board
from bot.media import write_mp4
from bot.storage import NewSession, Store
from bot.storage import VideoInfo as StoredVideo


def _video(path: Path) -> Path:
    frames = (np.full((720, 1280, 3), 40 + 10 * i, dtype=np.uint8) for i in range(6))
    write_mp4(frames, path, 30)
    return path


async def test_the_caption_follows_the_locale_and_nothing_else_changes(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    try:
        session = await store.start_session(
            NewSession(
                guild_id=1,
                channel_id=2,
                created_by=3,
                video=StoredVideo(fps=30, width=1280, height=720, total_frame=6, duration=0.2),
                local_path=str(_video(tmp_path / "clip.mp4")),
            )
        )
        boards = {
            locale: await build_board(store, session, tmp_path / "media", locale=locale)
            for locale in (None, "en-US", "id", "pt-BR")
        }
    finally:
        await store.close()
    assert boards[None].image == boards["en-US"].image
    assert boards["id"].image != boards[None].image
    assert boards["pt-BR"].image != boards["id"].image
    # Only the caption corner differs: the frame itself is the same picture.
    english, indonesian = (
        np.asarray(Image.open(io.BytesIO(boards[k].image)).convert("L"), float)
        for k in (None, "id")
    )
    difference = np.abs(english - indonesian) > 40
    rows, cols = np.nonzero(difference)
    assert rows.min() > english.shape[0] * 0.8 and cols.min() > english.shape[1] * 0.5
    # The grid summary the cogs show next to the board renders per reader.
    assert boards["id"].grid == "columns A–J, rows 1–6"
    assert boards["id"].grid.render("id") == "kolom A–J, baris 1–6"  # type: ignore[attr-defined]


async def test_the_editing_service_asks_for_each_session_s_language(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    asked: list[int] = []

    def server_locale(session: Any) -> str:
        asked.append(session.guild_id)
        return "pt-BR" if session.guild_id == 1 else "en-GB"

    try:
        video = StoredVideo(fps=30, width=1280, height=720, total_frame=6, duration=0.2)
        clip = str(_video(tmp_path / "clip.mp4"))
        brazil, british = [
            await store.start_session(
                NewSession(guild_id=guild, channel_id=2, created_by=3, video=video, local_path=clip)
            )
            for guild in (1, 2)
        ]
        # Drawing a board needs neither Kling nor the runner.
        service = EditingService(
            store,
            None,
            None,
            http=None,  # type: ignore[arg-type]
            media_dir=tmp_path / "media",
            board_locale=server_locale,
        )
        english = await build_board(store, british, tmp_path / "media")
        assert (await service.board(british.id)).image == english.image
        assert (await service.board(brazil.id)).image != english.image
        assert asked == [2, 1]
    finally:
        await store.close()
