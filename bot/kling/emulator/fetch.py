"""Downloading inputs (videos, reference images) with a byte cap and a time limit."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.kling.emulator.envelope import KlingApiError, invalid

_CHUNK = 256 * 1024


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)


async def fetch_to_file(
    http: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    field: str,
) -> int:
    """Stream `url` into `dest`; returns the byte count. Errors are 1201 naming `field`."""
    written = 0
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if response.status != 200:
                raise invalid(f"{field} could not be downloaded: HTTP {response.status}")
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise invalid(f"{field} is {declared} bytes, above the {max_bytes} byte limit")
            with dest.open("wb") as out:
                async for chunk in response.content.iter_chunked(_CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise invalid(f"{field} is larger than the {max_bytes} byte limit")
                    out.write(chunk)
    except KlingApiError:
        _discard(dest)
        raise
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        _discard(dest)
        raise invalid(f"{field} could not be downloaded: {type(exc).__name__}") from None
    return written


async def fetch_bytes(
    http: aiohttp.ClientSession, url: str, *, max_bytes: int, timeout_s: float, field: str
) -> bytes:
    """Fetch a small resource into memory; one byte over `max_bytes` is refused."""
    chunks: list[bytes] = []
    total = 0
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if response.status != 200:
                raise invalid(f"{field} could not be downloaded: HTTP {response.status}")
            async for chunk in response.content.iter_chunked(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise invalid(f"{field} is larger than {max_bytes // (1024 * 1024)} MB")
                chunks.append(chunk)
    except KlingApiError:
        raise
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise invalid(f"{field} could not be downloaded: {type(exc).__name__}") from None
    return b"".join(chunks)
