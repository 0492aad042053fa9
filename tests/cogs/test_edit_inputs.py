"""Starting sessions: videos that break rules (Fix and continue), refused URLs, replacing a
session, the message context menu and sessions in a new thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.media import check_video, probe_video
from tests.cogs.harness import KlingWorld, board_image, is_board, kling_world, make_video

__all__ = ["kling_world"]


async def test_small_slow_video_is_fixed_through_fix_and_continue(kling_world: KlingWorld) -> None:
    world = kling_world
    bad = world.video(width=640, height=360, fps=12)
    async with world.bot():
        handle = await world.alice.slash("kling edit", video=bad)
        notice = await handle.response(timeout=20)
        assert notice.ephemeral
        assert "640" in notice.content and "360" in notice.content  # measured size named
        assert "12" in notice.content and "fps" in notice.content  # measured rate named
        assert "Fix and continue" in notice.button_labels
        assert not any(is_board(m) for m in world.channel.visible_messages())

        await world.alice.click(notice, "Fix and continue")
        board = await world.board(timeout=60)
        fixed = next(f for f in board.files if f.filename.endswith(".mp4"))
        assert "fixed" in fixed.filename
        info = probe_video(fixed.save(world.tmp))
        assert min(info.width, info.height) >= 720 and round(info.fps) in (24, 30, 60)
        assert board_image(board).shape[1] >= 1000
        opened = await world.twin.wait_until(
            lambda: next(
                (
                    m
                    for m in world.channel.visible_messages()
                    if m.visible_to == world.alice.id and "editing session is open" in m.content
                ),
                None,
            )
        )
        assert "Fixed:" in opened.content  # what was changed is said


async def test_too_short_video_cannot_be_fixed(kling_world: KlingWorld) -> None:
    world = kling_world
    short = world.video(seconds=1.0)
    async with world.bot():
        notice = await (await world.alice.slash("kling edit", video=short)).response(timeout=20)
        assert "1.0" in notice.content and "Fix and continue" not in notice.button_labels
        assert not notice.buttons


async def test_private_urls_are_refused_before_any_download(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        reply = await (
            await world.alice.slash(
                "kling edit", url=f"{world.twin.url}/cdn/attachments/1/2/clip.mp4"
            )
        ).response()
        assert reply.ephemeral and "went wrong" not in reply.content
        assert any(word in reply.content.lower() for word in ("private", "loopback", "local"))
        both = await (
            await world.alice.slash(
                "kling edit", video=world.video(), url="https://example.com/a.mp4"
            )
        ).response()
        assert "either a `video` attachment or a `url`" in both.content


async def test_replacing_a_session_asks_first(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        first = await world.open_board()
        await (await world.alice.slash("kling mark", points="E3")).response()
        ask = await (await world.bob.slash("kling edit", video=world.video())).response(timeout=20)
        assert "already has an editing session" in ask.content and "1 point" in ask.content
        await world.bob.click(ask, "Keep")
        await world.twin.wait_until(lambda: "Kept" in world.twin.find_message(ask.id).content)
        assert world.twin.find_message(first.id).buttons  # untouched

        ask = await (await world.bob.slash("kling edit", video=world.video())).response(timeout=20)
        await world.bob.click(ask, "Replace")
        second = await world.board(predicate=lambda m: m.id != first.id, timeout=30)
        old = world.twin.find_message(first.id)
        await world.twin.wait_until(lambda: not old.buttons, 10)
        assert "replaced" in old.text
        assert "No points yet" in second.text


async def test_context_menu_and_thread_sessions(kling_world: KlingWorld) -> None:
    world = kling_world
    async with world.bot():
        posted = await world.alice.send(world.channel, "look at this", files=[world.video()])
        handle = await world.bob.context_menu("Edit video with Kling", posted)
        assert "editing session is open" in (await handle.response(timeout=30)).content
        board = await world.board()
        assert np.asarray(board_image(board)).size > 0

        # A second session in a new thread, leaving the channel's session alone.
        handle = await world.alice.slash("kling edit", video=world.video(), thread=True)
        assert "editing session is open" in (await handle.response(timeout=30)).content
        [thread] = world.channel.threads
        in_thread = await world.board(channel=thread)
        await world.alice.click(in_thread, "▶ +1")
        await world.board(channel=thread, predicate=lambda m: "Frame 1 /" in m.text)
        assert "Frame 0 /" in world.twin.find_message(board.id).text


# (file name, width, height, fps, seconds, what the notice names, what the fixed clip must be)
BROKEN_VIDEOS = {
    "too long": ("long.mp4", 720, 720, 24, 12.0, ("12.0 s",), {"duration": 10.0}),
    "wrong fps": ("pal.mp4", 720, 720, 25, 2.5, ("25 fps",), {"fps": 24}),
    "too small": ("small.mp4", 640, 360, 24, 2.5, ("640x360",), {"size": (1280, 720)}),
    "mkv container": ("clip.mkv", 720, 720, 24, 2.5, ("MKV",), {"container": "mp4"}),
}


@pytest.mark.parametrize("case", list(BROKEN_VIDEOS))
async def test_a_video_that_breaks_a_rule_is_fixed_through_fix_and_continue(
    kling_world: KlingWorld, case: str
) -> None:
    name, width, height, fps, seconds, named, expect = BROKEN_VIDEOS[case]
    world = kling_world
    bad = make_video(world.tmp / name, width=width, height=height, fps=fps, seconds=seconds)
    async with world.bot():
        notice = await (await world.alice.slash("kling edit", video=bad)).response(timeout=20)
        assert notice.ephemeral and all(text in notice.content for text in named), notice.content
        assert notice.button_labels == ["Fix and continue"]

        await world.alice.click(notice, "Fix and continue")
        board = await world.board(timeout=60)
        fixed = next(f for f in board.files if f.filename.endswith(".mp4"))
        assert fixed.filename == Path(name).stem + "-fixed.mp4"
        info = probe_video(fixed.save(world.tmp))
        assert check_video(info) == [], check_video(info)
        if "duration" in expect:
            assert info.duration_s == pytest.approx(expect["duration"], abs=0.05)
        if "fps" in expect:
            assert round(info.fps) == expect["fps"]
        if "size" in expect:
            assert (info.width, info.height) == expect["size"]
        if "container" in expect:
            assert info.container == expect["container"]

        # The board works: marking the square reaches Kling and shows on the board.
        reply = await (await world.alice.slash("kling mark", points="E3")).response(timeout=20)
        assert "Marked frame 0: 1 point" in reply.content, reply.content
        await world.board(predicate=lambda m: "#1 by" in m.text)
