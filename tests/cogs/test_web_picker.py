"""The web picker end to end through the Discord stand-in: **Pick points** carries **Open the
picker**; a click on that page marks the point and the channel's board shows it."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

from bot.config import WebConfig
from tests.bot.web.browser import DESKTOP, launch
from tests.cogs.harness import KlingWorld, kling_world
from tests.cogs.test_picker import emulator_clicks, open_picker, textured_video

__all__ = ["kling_world", "textured_video"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_open_the_picker_then_click_marks_and_updates_the_channel_board(
    kling_world: KlingWorld, textured_video: Path
) -> None:
    world = kling_world
    port = free_port()
    world.config = dataclasses.replace(
        world.config,
        web=WebConfig(public_url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port),
    )
    async for browser in launch():
        async with world.bot():
            board = await world.open_board(video=textured_video)
            picker = await open_picker(world, world.alice, board)
            links = [b for b in picker.buttons if b.get("url")]
            assert [b["label"] for b in links] == ["Open the picker"]
            url = str(links[0]["url"])
            assert url.startswith(f"http://127.0.0.1:{port}/picker/")
            page: Any = await (await browser.new_context(viewport=DESKTOP)).new_page()
            await page.goto(url)
            await page.wait_for_function(
                "() => (document.getElementById('frame').dataset.shown || '').startsWith('0@')"
            )
            box = await page.locator("#frame").bounding_box()
            await page.mouse.click(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
            channel_board = await world.board(predicate=lambda m: "#1 by" in m.text)
            assert f"<@{world.alice.id}>" in channel_board.text
            [(x, y)] = await emulator_clicks(world)
            assert abs(x - 0.5) <= 1 / box["width"] and abs(y - 0.5) <= 1 / box["height"]
