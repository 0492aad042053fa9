"""Result downloads for the job runner: :mod:`bot.fetch` with Kling's result links trusted.

Kling (or the configured emulator/proxy) hands out these links, not a user, so they are fetched
without the public-address rule (the emulator serves them on loopback).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.fetch import CHUNK, DownloadError
from bot.fetch import download_to_file as _download_to_file

__all__ = ["CHUNK", "DownloadError", "download_to_file"]


async def download_to_file(
    http: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    time_limit: float,
    public_only: bool = False,
) -> Path:
    """Fetch a provider-issued ``url`` into ``dest`` (see :func:`bot.fetch.download_to_file`)."""
    return await _download_to_file(
        http, url, dest, max_bytes=max_bytes, time_limit=time_limit, public_only=public_only
    )
