"""The web picker in a real browser (Chromium through Playwright): click and tap to mark, the
mask on the page, live updates between two members' pages, undo and clear, refused links."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.bot.editing.conftest import BALL_CENTRE, HEIGHT, SQUARE_CENTRE, WIDTH
from tests.bot.web.browser import DESKTOP, PHONE, launch, pixels
from tests.bot.web.conftest import ALICE, BOB, WebRig

# Screenshots for people to look at: kept when KLING_PICKER_SHOTS names a folder.
SHOTS = os.environ.get("KLING_PICKER_SHOTS")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async for found in launch():
        yield found


async def open_page(
    browser: Any,
    web: WebRig,
    member: int = ALICE,
    *,
    phone: bool = False,
    locale: str | None = None,
) -> Any:
    options: dict[str, Any] = {"viewport": PHONE if phone else DESKTOP}
    if phone:
        options.update(has_touch=True, is_mobile=True, device_scale_factor=1)
    context = await browser.new_context(**options)
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(web.link(member, locale=locale))
    await wait_shown(page)
    return page


async def wait_shown(page: Any, *, not_version: str | None = None) -> str:
    """Wait until the canvas shows the page's newest state (other than `not_version`)."""
    await page.wait_for_function(
        """(old) => {
            const v = document.body.dataset.version;
            const shown = document.getElementById('frame').dataset.shown || '';
            return v && v !== old && shown.endsWith('@' + v);
        }""",
        arg=not_version or "",
        timeout=10_000,
    )
    return await page.evaluate("document.body.dataset.version")


async def largest_frame_element(page: Any) -> Any:
    """SPEC §12: the page's frame is its largest <canvas> or <img>."""
    handle = await page.evaluate_handle(
        """() => [...document.querySelectorAll('canvas, img')]
                .map(e => [e, e.getBoundingClientRect()])
                .sort((a, b) => b[1].width * b[1].height - a[1].width * a[1].height)[0][0]"""
    )
    return handle.as_element()


async def point_on(page: Any, fx: float, fy: float) -> tuple[float, float]:
    box = await (await largest_frame_element(page)).bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def patch(image: np.ndarray, fx: float, fy: float, dx: float, dy: float) -> np.ndarray:
    """Mean colour of a small patch at (fx, fy) moved by (dx, dy) of the element's size."""
    h, w = image.shape[:2]
    cx, cy = int((fx + dx) * w), int((fy + dy) * h)
    return image[cy - 2 : cy + 3, cx - 2 : cx + 3].reshape(-1, 3).mean(axis=0)


async def shoot(page: Any, name: str) -> None:
    if SHOTS:
        await asyncio.to_thread(Path(SHOTS).mkdir, parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


async def test_a_click_on_the_ball_marks_it_and_the_mask_fills_the_ball(
    web: WebRig, browser: Any
) -> None:
    page = await open_page(browser, web)
    element = await largest_frame_element(page)
    assert await element.evaluate("e => e.id") == "frame"
    style = await element.evaluate(
        "e => { const s = getComputedStyle(e); return [s.borderTopWidth, s.paddingTop,"
        " s.objectFit, e.getBoundingClientRect().width / e.getBoundingClientRect().height]; }"
    )
    assert style[:2] == ["0px", "0px"] and abs(style[3] - WIDTH / HEIGHT) < 0.01
    await shoot(page, "desktop-before")
    before = pixels(await element.screenshot())
    version = await page.evaluate("document.body.dataset.version")
    # Off the ball's exact centre, so "the same point" is tested rather than a snapped one.
    fx, fy = BALL_CENTRE[0] + 0.013, BALL_CENTRE[1] - 0.021
    started = time.perf_counter()
    await page.mouse.click(*await point_on(page, fx, fy))
    await wait_shown(page, not_version=version)
    elapsed = time.perf_counter() - started
    after = pixels(await element.screenshot())
    await shoot(page, "desktop-marked")

    [(kx, ky)] = web.kling_clicks()[0]
    # Within one video pixel or one CSS pixel, whichever is larger (SPEC §10).
    box = await element.bounding_box()
    assert abs(kx - fx) <= max(1 / WIDTH, 1 / box["width"]) + 1e-6
    assert abs(ky - fy) <= max(1 / HEIGHT, 1 / box["height"]) + 1e-6
    assert elapsed < 2.0
    # Over the ball, away from the numbered dot: the fill changed it clearly...
    for dx, dy in [(0.035, 0.05), (-0.03, 0.06), (-0.02, -0.03)]:
        change = np.abs(patch(after, fx, fy, dx, dy) - patch(before, fx, fy, dx, dy)).sum()
        assert change > 60, (dx, dy, change)
    # ...and the square, another object, is left as it was.
    square = np.abs(patch(after, *SQUARE_CENTRE, 0, 0) - patch(before, *SQUARE_CENTRE, 0, 0))
    assert square.sum() < 15
    await asyncio.wait_for(web.discord.changed.wait(), 5)
    assert web.discord.refreshed == [web.session_id]
    texts = await page.locator("#points li").all_inner_texts()
    assert len(texts) == 1 and "#1" in texts[0] and "Alice" in texts[0]


async def test_a_tap_on_a_phone_marks_the_square(web: WebRig, browser: Any) -> None:
    page = await open_page(browser, web, phone=True, locale="pt-BR")
    element = await largest_frame_element(page)
    box = await element.bounding_box()
    assert box["width"] == pytest.approx(PHONE["width"], abs=1)  # the whole width of the phone
    version = await page.evaluate("document.body.dataset.version")
    fx, fy = SQUARE_CENTRE
    await page.touchscreen.tap(*await point_on(page, fx, fy))
    await wait_shown(page, not_version=version)
    await shoot(page, "phone-marked")
    [(kx, ky)] = web.kling_clicks()[0]
    # One CSS pixel is larger than a video pixel on a phone.
    assert abs(kx - fx) <= 1 / box["width"] + 1e-6 and abs(ky - fy) <= 1 / box["height"] + 1e-6
    text = await page.locator("#points li").first.inner_text()
    assert "no quadro 0 por Alice" in text  # the member's language, from the token


async def test_another_members_page_shows_the_point_live(web: WebRig, browser: Any) -> None:
    alice = await open_page(browser, web, ALICE)
    bob = await open_page(browser, web, BOB)
    bob_version = await bob.evaluate("document.body.dataset.version")
    await alice.mouse.click(*await point_on(alice, *BALL_CENTRE))
    started = time.perf_counter()
    await wait_shown(alice)
    await wait_shown(bob, not_version=bob_version)
    live = time.perf_counter() - started
    assert live < 1.0, live
    texts = await bob.locator("#points li").all_inner_texts()
    assert len(texts) == 1 and "Alice" in texts[0]
    # A change made elsewhere (the Discord side) shows too, without reloading.
    version = await bob.evaluate("document.body.dataset.version")
    await web.rig.service.mark(web.session_id, points="0.72,0.35", user_id=BOB)
    await wait_shown(bob, not_version=version)
    assert len(await bob.locator("#points li").all_inner_texts()) == 2


async def test_a_click_makes_one_request_and_its_mask_shows(web: WebRig, browser: Any) -> None:
    """The mark's answer carries the new state and the frame's masks, and the page keeps the
    frame it shows: a click is one request. The live event of that same change, which can
    arrive before the answer, asks for nothing more; another member's change asks for the new
    state and masks, never the frame again."""
    page = await open_page(browser, web)
    asked: list[str] = []
    page.on(
        "request",
        lambda request: (
            asked.append(request.url.split("/api/", 1)[1].split("?")[0])
            if "/api/" in request.url
            else None
        ),
    )
    element = await largest_frame_element(page)
    before = pixels(await element.screenshot())
    version = await page.evaluate("document.body.dataset.version")
    await page.mouse.click(*await point_on(page, *BALL_CENTRE))
    version = await wait_shown(page, not_version=version)
    after = pixels(await element.screenshot())
    assert asked == ["mark"], asked
    change = np.abs(
        patch(after, *BALL_CENTRE, 0.035, 0.05) - patch(before, *BALL_CENTRE, 0.035, 0.05)
    )
    assert change.sum() > 60, change  # the mask is on the page
    # A later change made elsewhere: its live event comes after the click's on the same
    # stream, so once it shows, the page has handled everything the click caused.
    await web.rig.service.mark(web.session_id, points="0.72,0.35", user_id=BOB)
    await wait_shown(page, not_version=version)
    assert asked == ["mark", "state", "masks/0"], asked


async def test_undo_and_clear_from_the_page(web: WebRig, browser: Any) -> None:
    page = await open_page(browser, web)
    for target in (BALL_CENTRE, SQUARE_CENTRE):
        version = await page.evaluate("document.body.dataset.version")
        await page.mouse.click(*await point_on(page, *target))
        await wait_shown(page, not_version=version)
    assert len(web.kling_clicks()[0]) == 2
    version = await page.evaluate("document.body.dataset.version")
    await page.click("#undo")
    await wait_shown(page, not_version=version)
    [(kx, _ky)] = web.kling_clicks()[0]
    assert kx == pytest.approx(BALL_CENTRE[0], abs=1 / WIDTH)  # the last one (square) went
    version = await page.evaluate("document.body.dataset.version")
    await page.click("#clear")
    await wait_shown(page, not_version=version)
    assert web.kling_clicks() == {}
    assert await web.rig.store.list_points(web.session_id) == []
    assert await page.is_disabled("#undo") and await page.is_disabled("#clear")


async def test_frame_navigation_marks_the_frame_shown(web: WebRig, browser: Any) -> None:
    page = await open_page(browser, web)
    await page.click("[data-step='10']")
    await page.click("[data-step='1']")
    await page.wait_for_function(
        "() => document.getElementById('frame').dataset.shown.startsWith('11@')"
    )
    await page.fill("#slider", "30")
    await page.wait_for_function(
        "() => document.getElementById('frame').dataset.shown.startsWith('30@')"
    )
    await page.click("[data-step='-10']")
    await page.wait_for_function(
        "() => document.getElementById('frame').dataset.shown.startsWith('20@')"
    )
    # Back to a frame seen before: its masks are asked for, the frame picture is kept.
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url.split("/api/", 1)[-1]))
    await page.fill("#slider", "30")
    await page.wait_for_function(
        "() => document.getElementById('frame').dataset.shown.startsWith('30@')"
    )
    assert asked == ["masks/30"], asked
    await page.click("[data-step='-10']")
    await page.wait_for_function(
        "() => document.getElementById('frame').dataset.shown.startsWith('20@')"
    )
    version = await page.evaluate("document.body.dataset.version")
    await page.mouse.click(*await point_on(page, *BALL_CENTRE))
    await wait_shown(page, not_version=version)
    assert list(web.kling_clicks()) == [20]


async def test_refused_links_show_a_message_and_call_nothing(web: WebRig, browser: Any) -> None:
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    calls = web.selection_calls()
    forged = web.link().rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    for url in (
        forged,
        f"{web.base_url}/picker/{web.session_id}/",
        web.link().replace(f"/picker/{web.session_id}/", f"/picker/{web.session_id + 1}/"),
    ):
        response = await page.goto(url)
        assert response.status == 403
        assert "not valid or has expired" in await page.inner_text("body")
    assert web.selection_calls() == calls


async def test_an_ended_session_says_so_on_the_page(web: WebRig, browser: Any) -> None:
    page = await open_page(browser, web)
    await web.rig.service.end_session(web.session_id)
    await page.wait_for_function(
        "() => document.getElementById('status').textContent.includes('has ended')"
    )
    calls = web.selection_calls()
    await page.mouse.click(*await point_on(page, *BALL_CENTRE))
    await shoot(page, "desktop-ended")
    assert web.selection_calls() == calls
