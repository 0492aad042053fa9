"""The project's one downloader: stream a URL to disk with a byte cap and a time limit.

The file appears under its final name only when complete (written to ``*.part``, then renamed),
so a crash mid-download never leaves a truncated file that looks finished.

With ``public_only`` (links typed or pasted by users, SPEC §6) the URL must be http(s), its host
must resolve only to public addresses, and redirects are followed by hand (at most
``MAX_REDIRECTS``), each hop checked the same way. IP literals are read the way the C resolver
reads them (``2130706433``, ``0x7f.1``, ``0177.0.0.1`` are all 127.0.0.1), so they cannot slip past
as "names". The connection is pinned to the addresses that were checked: the request goes
through a connector whose resolver answers only with them, so a DNS answer that changes between
the check and the connect (DNS rebinding) cannot send the request elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bot.errors import UserFacingError
from bot.i18n import Msg

CHUNK = 256 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
Resolver = Callable[[str, int], Awaitable[list[str]]]
AddressPolicy = Callable[[IPAddress], bool]

PRIVATE_ADDRESS = Msg(
    "That link points to a private network address; I only fetch public http(s) links."
)
NOT_HTTP = Msg("That is not an http(s) link; I only fetch public http(s) links.")


class DownloadError(UserFacingError):
    """The file could not be fetched; the message names the problem and never the URL (which
    may carry a signed query string), so it is safe to log and to show."""


def _size_text(max_bytes: int) -> Msg:
    mib = 1024 * 1024
    if max_bytes >= mib:
        return Msg("{size} MB", size=f"{max_bytes / mib:g}")
    return Msg("{size} bytes", size=f"{max_bytes:,}")


# ----- address checks -------------------------------------------------------------------------


def _ipv4_part(text: str) -> int | None:
    """One dotted part as inet_aton reads it: 0x.. hex, leading 0 octal, else decimal."""
    try:
        if text[:2].lower() == "0x":
            return int(text[2:], 16) if len(text) > 2 else 0
        if len(text) > 1 and text.startswith("0"):
            return int(text, 8)
        return int(text, 10) if text.isdigit() else None
    except ValueError:
        return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host string stands for without DNS (IPv6, or any inet_aton IPv4 form)."""
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        return None
    values = [_ipv4_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    numbers = [v for v in values if v is not None]
    # a.b.c.d; a.b.c (c: 16 bits); a.b (b: 24 bits); a (32 bits)
    *head, last = numbers
    if any(v > 255 for v in head) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    value = 0
    for number in head:
        value = value << 8 | number
    value = value << (8 * (5 - len(numbers))) | last
    return ipaddress.IPv4Address(value)


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses (embedded IPv4 checked too)."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4-mapped and NAT64 addresses reach exactly their IPv4 address: judge that one.
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and not is_public_address(embedded):
            return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def checked_addresses(url: URL, resolver: Resolver, allowed: AddressPolicy) -> list[str]:
    """The addresses ``url``'s host resolves to, all allowed, or DownloadError."""
    if url.scheme not in ("http", "https"):
        raise DownloadError(NOT_HTTP)
    host = url.raw_host
    if not host:
        raise DownloadError(Msg("That link has no host name in it."))
    port = url.port or (443 if url.scheme == "https" else 80)
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver(host, port)
        except (OSError, UnicodeError) as error:
            raise DownloadError(Msg("I could not find the server of that link.")) from error
        if not addresses:
            raise DownloadError(Msg("I could not find the server of that link."))
    for text in addresses:
        parsed = parse_ip_literal(text)
        if parsed is None or not allowed(parsed):
            raise DownloadError(PRIVATE_ADDRESS)
    return addresses


class _PinnedResolver(AbstractResolver):
    """Answers only with addresses checked beforehand, so the connect cannot be redirected."""

    def __init__(self) -> None:
        self.pins: dict[str, list[str]] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.pins.get(host)
        if not addresses:
            raise OSError(f"host {host!r} was not checked")
        results: list[ResolveResult] = []
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            fam = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(address),
                    port=port,
                    family=fam,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        return results

    async def close(self) -> None:
        return None


# ----- downloading ----------------------------------------------------------------------------


async def download_to_file(
    http: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    time_limit: float,
    public_only: bool,
    resolver: Resolver | None = None,
    address_allowed: AddressPolicy | None = None,
) -> Path:
    """Fetch ``url`` into ``dest`` (created with its parents); raise :class:`DownloadError`.

    ``http`` carries the request when ``public_only`` is False. With ``public_only`` a private
    session pinned to the checked addresses is used instead (``http``'s connector would resolve
    names again on its own). ``resolver`` and ``address_allowed`` exist for tests.
    """
    try:
        start = URL(url)
    except (ValueError, TypeError) as error:
        raise DownloadError(Msg("That is not a valid link.")) from error
    if start.scheme not in ("http", "https"):
        raise DownloadError(NOT_HTTP)
    partial = dest.with_name(dest.name + ".part")
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    try:
        async with asyncio.timeout(time_limit):
            if public_only:
                pinned = _PinnedResolver()
                connector = aiohttp.TCPConnector(resolver=pinned, use_dns_cache=False)
                async with aiohttp.ClientSession(connector=connector) as own:
                    await _follow(
                        own,
                        start,
                        partial,
                        max_bytes,
                        pinned,
                        resolver or system_resolver,
                        address_allowed or is_public_address,
                    )
            else:
                await _follow(http, start, partial, max_bytes, None, None, None)
        await asyncio.to_thread(os.replace, partial, dest)
    except DownloadError:
        await _discard(partial)
        raise
    except TimeoutError as error:
        await _discard(partial)
        raise DownloadError(
            Msg(
                "The download took longer than {seconds} s; try a smaller file or another link.",
                seconds=f"{time_limit:g}",
            )
        ) from error
    except (aiohttp.ClientError, OSError, ValueError) as error:
        await _discard(partial)
        raise DownloadError(
            Msg("I could not download that link ({reason}).", reason=type(error).__name__)
        ) from error
    except BaseException:
        await _discard(partial)
        raise
    return dest


async def _follow(
    http: aiohttp.ClientSession,
    url: URL,
    partial: Path,
    max_bytes: int,
    pinned: _PinnedResolver | None,
    resolver: Resolver | None,
    allowed: AddressPolicy | None,
) -> None:
    for _hop in range(MAX_REDIRECTS + 1):
        if url.scheme not in ("http", "https"):
            raise DownloadError(NOT_HTTP)
        if pinned is not None and resolver is not None and allowed is not None:
            addresses = await checked_addresses(url, resolver, allowed)
            if url.raw_host:
                pinned.pins[url.raw_host] = addresses
        async with http.get(url, allow_redirects=False) as response:
            if response.status in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise DownloadError(Msg("The link redirects nowhere."))
                url = response.url.join(URL(location))
                continue
            if response.status != 200:
                raise DownloadError(
                    Msg(
                        "The link answered with HTTP {status}; it must be a direct, public link"
                        " to the file.",
                        status=response.status,
                    )
                )
            await _stream(response, partial, max_bytes)
            return
    raise DownloadError(
        Msg("The link redirects too many times (more than {max}).", max=MAX_REDIRECTS)
    )


async def _stream(response: aiohttp.ClientResponse, partial: Path, max_bytes: int) -> None:
    too_large = Msg("The file is larger than the {size} cap.", size=_size_text(max_bytes))
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise DownloadError(too_large)
    written = 0
    handle: Any = await asyncio.to_thread(partial.open, "wb")
    try:
        async for chunk in response.content.iter_chunked(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise DownloadError(too_large)
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    if written == 0:
        raise DownloadError(Msg("The link returned an empty file."))


async def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        await asyncio.to_thread(path.unlink, True)
