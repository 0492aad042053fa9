"""The editing service's file work: downloads, probing, fixing, reference images (all off-loop)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from yarl import URL

from bot.editing.views import VideoCheck
from bot.errors import UserFacingError
from bot.fetch import DownloadError, download_to_file
from bot.i18n import Msg
from bot.media import MediaError, VideoInfo, normalise_reference_image, probe_video
from bot.media import check_video as rules_check
from bot.media import fix_video as media_fix
from bot.media.fix import FixReport
from bot.media.rules import DURATION_WINDOWS, duration_window, edit_duration_for
from bot.storage import Session

log = logging.getLogger(__name__)

VIDEO_MAX_BYTES = 200 * 1024 * 1024
VIDEO_TIME_LIMIT = 120.0
PREVIEW_MAX_BYTES = 200 * 1024 * 1024
PREVIEW_TIME_LIMIT = 120.0
_VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")


def suffix_of(url: str | None, default: str) -> str:
    """The file extension of a link's path (lower case), or ``default``."""
    if not url:
        return default
    try:
        suffix = Path(URL(url).path).suffix.lower()
    except ValueError:
        return default
    return suffix if 1 < len(suffix) <= 5 and suffix[1:].isalnum() else default


async def download_video(
    http: aiohttp.ClientSession, url: str, media_dir: Path, *, public_only: bool
) -> Path:
    suffix = suffix_of(url, ".mp4")
    dest = media_dir / "videos" / f"{uuid.uuid4().hex}{suffix if suffix in _VIDEO_SUFFIXES else ''}"
    return await download_to_file(
        http,
        url,
        dest,
        max_bytes=VIDEO_MAX_BYTES,
        time_limit=VIDEO_TIME_LIMIT,
        public_only=public_only,
    )


async def probe(path: Path) -> VideoInfo:
    try:
        return await asyncio.to_thread(probe_video, path)
    except MediaError as error:
        raise UserFacingError(error.message) from error


async def check_video(path: Path) -> VideoCheck:
    try:
        info = await asyncio.to_thread(probe_video, path)
    except MediaError as error:
        return VideoCheck(path=path, info=None, unreadable_reason=error.message)
    return VideoCheck(path=path, info=info, violations=tuple(rules_check(info)))


async def fix_video(path: Path, media_dir: Path) -> FixReport:
    info = await probe(path)
    dest = media_dir / "videos" / f"{uuid.uuid4().hex}-fixed.mp4"
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    try:
        return await asyncio.to_thread(media_fix, path, dest, info)
    except MediaError as error:
        await asyncio.to_thread(dest.unlink, True)
        raise UserFacingError(error.message) from error


def _copy_unless_inside(video: Path, media_dir: Path) -> Path:
    if video.resolve().is_relative_to(media_dir.resolve()):
        return video
    dest = media_dir / "videos" / f"{uuid.uuid4().hex}{video.suffix.lower() or '.mp4'}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(video, dest)
    return dest


async def keep_copy(video: Path, media_dir: Path) -> Path:
    """The session's own copy of its video, under media_dir (the caller's file may be temporary)."""
    return await asyncio.to_thread(_copy_unless_inside, Path(video), media_dir)


async def fetch_result(http: aiohttp.ClientSession, url: str | None, dest: Path) -> Path | None:
    """Download a Kling-issued file; None (the caller links the URL instead) when that fails."""
    if not url:
        return None
    try:
        return await download_to_file(
            http,
            url,
            dest,
            max_bytes=PREVIEW_MAX_BYTES,
            time_limit=PREVIEW_TIME_LIMIT,
            public_only=False,
        )
    except DownloadError as error:
        log.warning("could not download %s: %s", dest.name, error)
        return None


async def edit_duration(session: Session) -> str:
    """Kling's ``duration`` for an edit of the session's video ("5" or "10")."""
    if session.local_path:
        try:
            info = await asyncio.to_thread(probe_video, Path(session.local_path))
            return edit_duration_for(info)
        except (MediaError, OSError):
            pass  # the stored length (Kling's own figure) still tells the window
    window = duration_window(session.video.duration)
    if window is None:
        raise UserFacingError(
            Msg(
                "The video is {seconds:.2f} s long; Kling edits 2–5 s or 7–10 s videos.",
                seconds=session.video.duration,
            )
        )
    return "5" if window == DURATION_WINDOWS[0] else "10"


def _save_images(images: Sequence[tuple[str, bytes]], folder: Path) -> tuple[list[Path], list[str]]:
    paths: list[Path] = []
    notes: list[str] = []  # bot.i18n.Text, each
    prepared = []
    for name, data in images:
        reference = normalise_reference_image(data, filename=name or None)
        prepared.append(reference)
        notes.extend(
            Msg("{name}: {change}", name=name, change=change) if name else change
            for change in reference.changes
        )
    folder.mkdir(parents=True, exist_ok=True)
    for number, reference in enumerate(prepared, start=1):
        suffix = ".jpg" if reference.format == "jpeg" else ".png"
        path = folder / f"image-{number}{suffix}"
        path.write_bytes(reference.data)
        paths.append(path)
    return paths, notes


async def save_reference_images(
    images: Sequence[tuple[str, bytes]], folder: Path
) -> tuple[list[Path], list[str]]:
    """Normalise every image (SPEC §6) and save them; all or nothing."""
    if not images:
        return [], []
    try:
        return await asyncio.to_thread(_save_images, images, folder)
    except MediaError as error:
        raise UserFacingError(error.message) from error
