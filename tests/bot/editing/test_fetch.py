"""bot.fetch: the public-address rule (after DNS and on every redirect), pinning, caps, time limits.

Loopback is itself refused by the public rule, so the redirect and resolution logic is driven by
an injected resolver and an address policy under which only 127.0.0.1 counts as "public"; the
servers are real aiohttp servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.fetch import (
    PRIVATE_ADDRESS,
    DownloadError,
    IPAddress,
    download_to_file,
    is_public_address,
    parse_ip_literal,
)
from tests.bot.editing.conftest import Rig

BODY = bytes(range(256)) * 1024  # 256 KiB


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.65535", "10.1.255.255"),
        ("0", "0.0.0.0"),  # noqa: S104 - the address under test, not a bind
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
        ("0x", "0.0.0.0"),  # noqa: S104
        ("08.1.1.1", None),  # not octal, not decimal: a name (and no resolver knows it)
    ],
)
def test_ip_literals_read_like_inet_aton(host: str, expected: str | None) -> None:
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed is not None else None) == expected


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:a00:1::",
        "64:ff9b::a00:1",
        "2001:db8::1",
    ],
)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@dataclass
class Server:
    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(0)

    async def handle(request: web.Request) -> web.StreamResponse:
        state.hits.append(request.path_qs)
        name = request.match_info["name"]
        target = request.query.get("to", "")
        if name == "file":
            return web.Response(body=BODY, content_type="video/mp4")
        if name == "redirect":
            raise web.HTTPFound(target)
        if name == "chain":
            left = int(request.query["n"])
            raise web.HTTPFound("/file" if left == 0 else f"/chain?n={left - 1}")
        if name == "chunked":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, len(BODY), 32 * 1024):
                await response.write(BODY[start : start + 32 * 1024])
            await response.write_eof()
            return response
        if name == "slow":
            response = web.StreamResponse()
            response.content_length = len(BODY)
            await response.prepare(request)
            await response.write(BODY[:1024])
            await asyncio.sleep(5)
            return response
        if name == "huge":
            response = web.StreamResponse()
            response.content_length = 300 << 20
            await response.prepare(request)
            await response.write(BODY[:1024])
            return response
        if name == "empty":
            return web.Response(body=b"")
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/{name}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = int(runner.addresses[0][1])
    try:
        yield state
    finally:
        await runner.cleanup()


def only_loopback_one(address: IPAddress) -> bool:
    """Test policy: 127.0.0.1 plays a public host; everything else keeps the real rule."""
    return str(address) == "127.0.0.1" or is_public_address(address)


class FakeDns:
    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        queue = self.answers.get(host)
        if not queue:
            raise OSError("NXDOMAIN")
        return queue.pop(0) if len(queue) > 1 else queue[0]


async def fetch_public(url: str, dest: Path, dns: FakeDns, **kwargs: object) -> Path:
    async with aiohttp.ClientSession() as http:
        return await download_to_file(
            http,
            url,
            dest,
            max_bytes=kwargs.pop("max_bytes", 1 << 20),  # type: ignore[arg-type]
            time_limit=5,
            public_only=True,
            resolver=dns,
            address_allowed=only_loopback_one,
        )


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0x7f.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "localhost"]
)
async def test_loopback_links_are_refused_without_a_request(
    server: Server, tmp_path: Path, host: str
) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(DownloadError) as error:
            await download_to_file(
                http,
                f"http://{host}:{server.port}/file",
                tmp_path / "x.mp4",
                max_bytes=1 << 20,
                time_limit=5,
                public_only=True,
            )
    assert error.value.user_message == PRIVATE_ADDRESS
    assert server.hits == [] and not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("url", ["ftp://example.com/a.mp4", "file:///etc/passwd", "javascript:1"])
async def test_only_http_links(tmp_path: Path, url: str) -> None:
    with pytest.raises(DownloadError, match=r"only fetch public http\(s\) links"):
        await fetch_public(url, tmp_path / "x", FakeDns({}))


async def test_public_name_is_fetched_and_pinned(server: Server, tmp_path: Path) -> None:
    # A rebinding DNS: the second answer would point at a closed address.
    dns = FakeDns({"cdn.test": [["127.0.0.1"], ["127.0.0.2"]]})
    got = await fetch_public(f"http://cdn.test:{server.port}/file", tmp_path / "a.mp4", dns)
    assert got.read_bytes() == BODY
    assert dns.asked == ["cdn.test"]  # resolved once; the connection used that answer


async def test_redirect_to_private_is_refused(server: Server, tmp_path: Path) -> None:
    dns = FakeDns({"cdn.test": [["127.0.0.1"]], "intranet.test": [["10.0.0.7"]]})
    for target in (
        f"http://intranet.test:{server.port}/file",
        f"http://2130706434:{server.port}/file",  # 127.0.0.2 in decimal
        f"http://[::ffff:10.0.0.7]:{server.port}/file",
        "ftp://cdn.test/file",
    ):
        with pytest.raises(DownloadError) as error:
            await fetch_public(
                f"http://cdn.test:{server.port}/redirect?to={target}", tmp_path / "b", dns
            )
        assert "public http(s) links" in error.value.user_message
    assert all(hit.startswith("/redirect") for hit in server.hits)
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))


async def test_name_with_any_private_answer_is_refused(server: Server, tmp_path: Path) -> None:
    dns = FakeDns({"mixed.test": [["127.0.0.1", "192.168.0.10"]]})
    with pytest.raises(DownloadError, match="private network address"):
        await fetch_public(f"http://mixed.test:{server.port}/file", tmp_path / "c", dns)
    with pytest.raises(DownloadError, match="could not find the server"):
        await fetch_public(f"http://nowhere.test:{server.port}/file", tmp_path / "c", dns)
    assert server.hits == []


async def test_redirects_are_followed_up_to_five(server: Server, tmp_path: Path) -> None:
    dns = FakeDns({"cdn.test": [["127.0.0.1"]]})
    got = await fetch_public(f"http://cdn.test:{server.port}/chain?n=4", tmp_path / "d", dns)
    assert got.read_bytes() == BODY and len(server.hits) == 6
    with pytest.raises(DownloadError, match="redirects too many times"):
        await fetch_public(f"http://cdn.test:{server.port}/chain?n=5", tmp_path / "e", dns)


async def test_caps_time_limit_and_status(server: Server, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession() as http:

        async def fetch(path: str, max_bytes: int = 1 << 20, limit: float = 5) -> Path:
            return await download_to_file(
                http,
                base + path,
                tmp_path / "out" / "f.mp4",
                max_bytes=max_bytes,
                time_limit=limit,
                public_only=False,
            )

        for path in ("/file", "/chunked"):  # declared length, then counted bytes
            with pytest.raises(DownloadError, match="larger than the 100,000 bytes cap"):
                await fetch(path, max_bytes=100_000)
            assert not list((tmp_path / "out").glob("*.part"))
            assert (await fetch(path, max_bytes=len(BODY))).read_bytes() == BODY
        with pytest.raises(DownloadError, match="larger than the 200 MB cap"):
            await fetch("/huge", max_bytes=200 << 20)  # refused on its Content-Length
        with pytest.raises(DownloadError, match=r"took longer than 0\.3 s"):
            await fetch("/slow", limit=0.3)
        with pytest.raises(DownloadError, match="HTTP 404"):
            await fetch("/missing")
        with pytest.raises(DownloadError, match="empty file"):
            await fetch("/empty")
        got = await fetch(f"/redirect?to={base}/file")
        assert got.read_bytes() == BODY
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["f.mp4"]


async def test_service_download_video_applies_the_rule_to_user_links(rig: Rig) -> None:
    with pytest.raises(DownloadError, match="private network address"):
        await rig.service.download_video(rig.video_url, user_supplied=True)
    assert rig.files.requests == []
    path = await rig.service.download_video(rig.video_url, user_supplied=False)
    assert path.is_relative_to(rig.media_dir) and path.suffix == ".mp4"
    assert path.read_bytes() == rig.video.read_bytes()
    check = await rig.service.check_video(path)
    assert check.ok and check.info is not None and check.info.frame_count == 48
