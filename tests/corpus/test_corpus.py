"""The bad-input corpus: hostile or broken videos, images, points, prompts and URLs, each sent
down the path a user's input takes (the EditingService the cogs call), each answered with a
message that names the problem, nothing crashing, and the stored state left as it was."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from fractions import Fraction
from pathlib import Path

import pytest
from aiohttp import web

from bot.errors import UserFacingError
from bot.fetch import IPAddress, download_to_file
from tests.bot.editing.conftest import ALICE, FileServer, file_server, scene_video
from tests.corpus import generators as gen
from tests.faults.test_selection_faults import EditRig, edit_rig

__all__ = ["file_server", "scene_video"]  # fixtures, imported for pytest
FILES = Path(__file__).parent / "files"


@pytest.fixture
async def rig(
    tmp_path: Path,
    scene_video: Path,
    file_server: FileServer,
) -> AsyncIterator[EditRig]:
    # No Kling faults here: a generous time limit keeps a loaded CI machine from flaking.
    async with edit_rig(tmp_path, scene_video, file_server, time_limit_s=10.0) as rig:
        yield rig


async def stored(rig: EditRig) -> tuple[object, ...]:
    jobs = await rig.store.list_in_flight_jobs()
    return (await rig.snapshot(), [j.id for j in jobs])


# ----- videos ----------------------------------------------------------------------------------

VIDEOS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "zero bytes": (lambda d: _write(d / "zero.mp4", b""), "empty"),
    "random bytes": (lambda d: _write(d / "noise.mp4", bytes(range(256)) * 40), "not a video"),
    "html named .mp4": (
        lambda d: _write(d / "page.mp4", b"<!doctype html><p>404</p>"),
        "not a video",
    ),
    "truncated mp4": (
        lambda d: gen.truncated(
            gen.encode(d / "whole.mp4", width=1280, height=720, frames=48), d / "cut.mp4"
        ),
        "not a video",
    ),
    "8000x8000 frame": (lambda d: FILES / "huge_8000x8000.mp4", "8000x8000"),
    "10 hour duration": (
        lambda d: gen.encode(
            d / "long.mp4",
            width=720,
            height=720,
            frames=2,
            pts=[0, 36_000_000],
            time_base=Fraction(1, 1000),
        ),
        "Kling accepts 2–5 s or 7–10 s",
    ),
    "no video stream": (lambda d: gen.audio_only(d / "audio.mp4"), "no video"),
    "variable frame rate": (
        lambda d: gen.encode(
            d / "vfr.mp4",
            width=720,
            height=720,
            frames=40,
            pts=[i * i * 3 for i in range(40)],
            time_base=Fraction(1, 1000),
        ),
        "fps",
    ),
    "64x64 px": (lambda d: gen.encode(d / "tiny.mp4", width=64, height=64, frames=48), "64x64"),
    "0.2 s long": (
        lambda d: gen.encode(d / "blink.mp4", width=1280, height=720, frames=5),
        "0.2 s",
    ),
    "15 fps": (
        lambda d: gen.encode(d / "slow.mp4", width=1280, height=720, frames=30, fps=15),
        "15 fps",
    ),
    "mkv container": (
        lambda d: gen.encode(
            d / "clip.mkv", width=1280, height=720, frames=48, container="matroska"
        ),
        "MKV",
    ),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", VIDEOS)
async def test_bad_video(rig: EditRig, tmp_path: Path, name: str) -> None:
    make, named = VIDEOS[name]
    path = make(tmp_path)
    before = await stored(rig)
    check = await rig.service.check_video(path)
    assert not check.ok
    told = check.unreadable_reason or " ".join(v.message for v in check.violations)
    assert named.lower() in told.lower(), told
    # Opening a session anyway (a broken client skipping the check) is refused too, before Kling.
    inits = rig.emulator.faults.calls["init-selection"]
    if check.info is None:
        with pytest.raises(UserFacingError):
            await rig.service.open_session(
                guild_id=1,
                channel_id=2,
                user_id=ALICE,
                video=path,
                video_url="http://example.invalid/x.mp4",
            )
        assert rig.emulator.faults.calls["init-selection"] == inits
    assert await stored(rig) == before


# ----- images ----------------------------------------------------------------------------------

REFUSED_IMAGES: dict[str, tuple[Callable[[], bytes], str]] = {
    "decompression bomb 60000x60000": (lambda: gen.png_declaring(60_000, 60_000), "too large"),
    "decompression bomb 20000x20000": (lambda: gen.png_declaring(20_000, 20_000), "too large"),
    "tiny 10x10": (lambda: gen.solid_png(10, 10), "10x10"),
    "extreme aspect 10:1": (lambda: gen.solid_png(3000, 300), "aspect"),
    "zero bytes": (lambda: b"", "empty"),
    "text named .png": (lambda: b"hello, not an image", "cannot be read"),
    "truncated png": (lambda: gen.solid_png(600, 600)[:200], "damaged"),
    "svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>', "cannot be read"),
}
CONVERTED_IMAGES: dict[str, tuple[Callable[[], bytes], str]] = {
    "cmyk jpeg": (gen.cmyk_jpeg, "CMYK"),
    "16-bit png": (gen.png_16bit, "16-bit"),
    "animated gif": (gen.animated_gif, "first frame"),
    "exif rotated jpeg": (gen.rotated_jpeg, "EXIF"),
}


@pytest.mark.parametrize("name", REFUSED_IMAGES)
async def test_refused_image(rig: EditRig, name: str) -> None:
    make, named = REFUSED_IMAGES[name]
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE)
    before = await stored(rig)
    with pytest.raises(UserFacingError) as caught:
        await rig.service.plan_edit(
            sid, kind="swap", prompt="a blue box", user_id=ALICE, images=[("ref.png", make())]
        )
    assert named.lower() in caught.value.user_message.lower(), caught.value.user_message
    assert await stored(rig) == before
    assert not list((rig.service.media_dir / "jobs").glob("*/*"))  # nothing half-saved


@pytest.mark.parametrize("name", CONVERTED_IMAGES)
async def test_converted_image(rig: EditRig, name: str) -> None:
    make, named = CONVERTED_IMAGES[name]
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE)
    plan = await rig.service.plan_edit(
        sid, kind="swap", prompt="a blue box", user_id=ALICE, images=[("ref", make())]
    )
    assert any(named.lower() in note.lower() for note in plan.notes), plan.notes
    assert len(plan.image_paths) == 1 and plan.image_paths[0].suffix in (".png", ".jpg")


# ----- points ----------------------------------------------------------------------------------

POINTS = {
    "nan": "nan,0.5",
    "inf": "0.5,inf",
    "negative": "-0.1,0.5",
    "1e308": "1e308,0.5",
    "too many (11)": " ".join(f"0.{i:02d},0.5" for i in range(10, 21)),
    "arabic-indic digits": "٠.٥,٠.٥",
    "cell off the grid": "Z9",
    "empty": "",
    "only whitespace": "   \t ",
    "three numbers": "0.5,0.5,0.5",
    "megabyte of cells": "C4 " * 350_000,
    "control characters": "C4\x00\x1b[2J",
}


@pytest.mark.parametrize("name", POINTS)
async def test_bad_points(rig: EditRig, name: str) -> None:
    sid = await rig.open()
    before = await stored(rig)
    adds = rig.emulator.faults.calls["add-selection"]
    with pytest.raises(UserFacingError) as caught:
        await rig.service.mark(sid, points=POINTS[name], user_id=ALICE)
    message = caught.value.user_message
    assert 10 < len(message) < 400, message  # one short sentence, not an echo of the input
    assert rig.emulator.faults.calls["add-selection"] == adds  # nothing reached Kling
    assert await stored(rig) == before


async def test_fullwidth_digits_mean_their_ascii_twins(rig: EditRig) -> None:
    """CJK keyboards type fullwidth forms; bot.points reads them as ASCII (by design)."""
    sid = await rig.open()
    board = await rig.service.mark(sid, points="０.７２，０.３５", user_id=ALICE)
    assert [(p.x, p.y) for p in board.points_on_frame] == [(0.72, 0.35)]


# ----- prompts ---------------------------------------------------------------------------------

PROMPTS = {
    "empty": ("", None, "empty"),
    "only whitespace": ("  \n\t  ", None, "empty"),
    "over 2500 chars": ("a" * 2501, None, "2500"),
    "only zero-width characters": ("\u200b\u200b\u200b", None, "empty"),
    "negative prompt over 2500 chars": ("a red box", "b" * 2600, "2500"),
}


@pytest.mark.parametrize("name", PROMPTS)
async def test_bad_prompt(rig: EditRig, name: str) -> None:
    prompt, negative, named = PROMPTS[name]
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE)
    before = await stored(rig)
    with pytest.raises(UserFacingError) as caught:
        await rig.service.plan_edit(
            sid, kind="removal", prompt=prompt, user_id=ALICE, negative_prompt=negative
        )
    assert named in caught.value.user_message.lower(), caught.value.user_message
    assert await stored(rig) == before


async def test_control_characters_never_reach_kling(rig: EditRig) -> None:
    sid = await rig.open()
    await rig.service.mark(sid, points="C4", user_id=ALICE)
    plan = await rig.service.plan_edit(
        sid, kind="removal", prompt="the\x00 ball\x1b[31m\u202e", user_id=ALICE
    )
    assert not any(ord(c) < 32 and c not in "\n\t" for c in plan.prompt), repr(plan.prompt)
    assert "\u202e" not in plan.prompt and "ball" in plan.prompt


# ----- URLs ------------------------------------------------------------------------------------

REFUSED_URLS = {
    "private 10/8": "http://10.0.0.1/v.mp4",
    "private 192.168/16": "http://192.168.1.1/v.mp4",
    "private 172.16/12": "https://172.16.0.1/v.mp4",
    "loopback": "http://127.0.0.1/v.mp4",
    "localhost": "http://localhost/v.mp4",
    "link-local metadata": "http://169.254.169.254/latest/meta-data",
    "ipv6 loopback": "http://[::1]/v.mp4",
    "ipv4-mapped ipv6": "http://[::ffff:127.0.0.1]/v.mp4",
    "ipv6 link-local": "http://[fe80::1]/v.mp4",
    "ipv6 unique-local": "http://[fc00::1]/v.mp4",
    "decimal ip": "http://2130706433/v.mp4",
    "hex ip": "http://0x7f000001/v.mp4",
    "octal ip": "http://0177.0.0.1/v.mp4",
    "file scheme": "file:///etc/passwd",
    "ftp scheme": "ftp://example.com/v.mp4",
    "javascript scheme": "javascript:alert(1)",
}


@pytest.mark.parametrize("name", REFUSED_URLS)
async def test_refused_url(rig: EditRig, name: str) -> None:
    with pytest.raises(UserFacingError) as caught:
        await rig.service.download_video(REFUSED_URLS[name], user_supplied=True)
    message = caught.value.user_message
    assert "http(s)" in message or "private" in message, message
    assert "169.254" not in message and "passwd" not in message  # never echoes the link


def only_first_loopback(address: IPAddress) -> bool:
    """Test policy: 127.0.0.1 plays "the public internet"; every other address stays private."""
    return address == ipaddress.ip_address("127.0.0.1")


@pytest.fixture
async def hostile_server() -> AsyncIterator[str]:
    async def redirect(request: web.Request) -> web.Response:
        port = request.url.port
        raise web.HTTPFound(f"http://127.0.0.2:{port}/big")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"\0" * 16_384)
        return response

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        await response.prepare(request)
        for _ in range(40):
            await response.write(b"\0" * 100)
            await asyncio.sleep(0.1)
        return response

    app = web.Application()
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://files.example.test:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def resolve_to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


@pytest.mark.parametrize(
    ("path", "named"), [("/redirect", "private"), ("/big", "larger"), ("/slow", "took longer")]
)
async def test_hostile_server(
    rig: EditRig, hostile_server: str, tmp_path: Path, path: str, named: str
) -> None:
    dest = tmp_path / "download" / "v.mp4"
    with pytest.raises(UserFacingError) as caught:
        await download_to_file(
            rig.service.http,
            hostile_server + path,
            dest,
            max_bytes=200_000,
            time_limit=1.0,
            public_only=True,
            resolver=resolve_to_loopback,
            address_allowed=only_first_loopback,
        )
    assert named in caught.value.user_message.lower(), caught.value.user_message
    assert not dest.exists() and not list(dest.parent.glob("*"))  # no partial file left
