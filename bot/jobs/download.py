"""Streaming download of a result video to disk, with a byte cap and an overall time limit.

The file appears under its final name only when complete (written to ``*.part``, then renamed), so
a crash mid-download never leaves a truncated video that looks finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import aiohttp

CHUNK = 256 * 1024


class DownloadError(Exception):
    """The result could not be fetched; the message is safe to log (no query string)."""


def _redacted(url: str) -> str:
    # Result URLs may carry signed query strings; keep them out of logs.
    return url.split("?", 1)[0]


async def download_to_file(
    http: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    time_limit: float,
) -> Path:
    """Fetch ``url`` into ``dest``; raise :class:`DownloadError` on any failure or over the cap."""
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"not an http(s) URL: {_redacted(url)}")
    partial = dest.with_name(dest.name + ".part")
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    try:
        async with asyncio.timeout(time_limit):
            await _stream(http, url, partial, max_bytes)
        await asyncio.to_thread(os.replace, partial, dest)
    except DownloadError:
        await _discard(partial)
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        await _discard(partial)
        raise DownloadError(f"{type(error).__name__} fetching {_redacted(url)}") from error
    except BaseException:
        await _discard(partial)
        raise
    return dest


async def _stream(http: aiohttp.ClientSession, url: str, partial: Path, max_bytes: int) -> None:
    async with http.get(url) as response:
        if response.status != 200:
            raise DownloadError(f"HTTP {response.status} fetching {_redacted(url)}")
        declared = response.content_length
        if declared is not None and declared > max_bytes:
            raise DownloadError(f"result is {declared} bytes, over the {max_bytes} byte cap")
        written = 0
        handle = await asyncio.to_thread(partial.open, "wb")
        try:
            async for chunk in response.content.iter_chunked(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise DownloadError(f"result exceeds the {max_bytes} byte cap")
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        if written == 0:
            raise DownloadError(f"empty body from {_redacted(url)}")


async def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        await asyncio.to_thread(path.unlink, True)
