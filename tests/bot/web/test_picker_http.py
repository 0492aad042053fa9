"""The picker's HTTP surface without a browser: tokens, routes, headers, marks through the
editing service, cooldowns, ended sessions, and Kling's callbacks on the same server."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import yarl

from bot.web import TokenSigner
from bot.web.server import CSP
from tests.bot.editing.conftest import BALL_CENTRE, HEIGHT, WIDTH
from tests.bot.web.conftest import ALICE, BOB, SIGNING_KEY, WebRig

READS = ["", "static/picker.js", "static/picker.css", "api/state", "api/frame/0", "api/masks/0"]
CHANGES = [
    ("api/mark", {"frame": 0, "x": BALL_CENTRE[0], "y": BALL_CENTRE[1]}),
    ("api/undo", {}),
    ("api/clear", {}),
]


async def mark(
    http: aiohttp.ClientSession,
    web: WebRig,
    x: float,
    y: float,
    *,
    member: int = ALICE,
    frame: int = 0,
) -> aiohttp.ClientResponse:
    return await http.post(
        web.api("api/mark"),
        json={"frame": frame, "x": x, "y": y},
        headers={"X-Picker-Token": web.token(member)},
    )


def bad_tokens(web: WebRig) -> dict[str, str | None]:
    good = web.token()
    head, body, signature = good.split(".")
    other_key = TokenSigner("another-key-entirely-0123456789-abcdef", lifetime_s=600)
    web.token_clock.now -= 31 * 60  # signed 31 minutes ago: expired now
    expired = web.token()
    web.token_clock.now += 31 * 60
    return {
        "missing": None,
        "garbage": "not-a-token",
        "tampered": f"{head}.{body}.{signature[:-4]}AAAA",
        "other key": other_key.sign(member_id=ALICE, session_id=web.session_id),
        "expired": expired,
        "other session": web.token(session_id=web.session_id + 1),
    }


async def test_every_route_refuses_a_bad_token_and_nothing_reaches_kling(web: WebRig) -> None:
    calls_before = web.selection_calls()
    async with aiohttp.ClientSession() as http:
        for name, token in bad_tokens(web).items():
            for path in READS:
                query = f"?t={token}" if token else ""
                async with http.get(web.api(path) + query) as response:
                    assert response.status == 403, (name, path)
                    assert "not valid or has expired" in await response.text()
            for path, body in CHANGES:
                headers = {"X-Picker-Token": token} if token else {}
                async with http.post(web.api(path), json=body, headers=headers) as response:
                    assert response.status == 403, (name, path)
    assert web.selection_calls() == calls_before
    assert await web.rig.store.list_points(web.session_id) == []
    assert web.discord.refreshed == []


async def test_changes_take_the_token_only_from_the_header(web: WebRig) -> None:
    """A link's query token cannot drive a change: a cross-site form could send a query."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            web.api(f"api/mark?t={web.token()}"), json={"frame": 0, "x": 0.25, "y": 0.5}
        ) as response,
    ):
        assert response.status == 403
    assert await web.rig.store.list_points(web.session_id) == []


async def test_a_mark_reaches_kling_with_the_clicked_floats_and_refreshes_the_board(
    web: WebRig,
) -> None:
    x, y = BALL_CENTRE
    async with aiohttp.ClientSession() as http, await mark(http, web, x, y) as response:
        assert response.status == 200
        state = await response.json()
    assert [(p["x"], p["y"], p["name"], p["mine"]) for p in state["points"]] == [
        (pytest.approx(x, abs=1e-6), pytest.approx(y, abs=1e-6), "Alice", True)
    ]
    [(kx, ky)] = web.kling_clicks()[0]
    assert abs(kx - x) * WIDTH <= 1 and abs(ky - y) * HEIGHT <= 1
    stored = await web.rig.store.list_points(web.session_id)
    assert [(p.added_by, p.frame_index) for p in stored] == [(ALICE, 0)]
    await asyncio.wait_for(web.discord.changed.wait(), 5)
    assert web.discord.refreshed == [web.session_id]


@pytest.mark.parametrize(
    "body",
    [
        {"frame": 0, "x": 1.5, "y": 0.5},
        {"frame": 0, "x": "0.5", "y": 0.5},
        {"frame": "0", "x": 0.5, "y": 0.5},
        {"frame": 0, "x": float("nan"), "y": 0.5},
        {"frame": 99_999, "x": 0.5, "y": 0.5},
        [1, 2],
        "junk",
    ],
)
async def test_a_bad_click_is_one_message_and_changes_nothing(web: WebRig, body: object) -> None:
    calls_before = web.selection_calls()
    async with aiohttp.ClientSession() as http:
        data = body if isinstance(body, str) else None
        async with http.post(
            web.api("api/mark"),
            data=data,
            json=None if data is not None else body,
            headers={"X-Picker-Token": web.token()},
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"]
    assert web.selection_calls() == calls_before
    assert await web.rig.store.list_points(web.session_id) == []


async def test_the_discord_cooldown_applies_per_member(web: WebRig) -> None:
    async with aiohttp.ClientSession() as http:
        for step in range(4):  # the burst /kling mark allows
            async with await mark(http, web, 0.1 + step * 0.05, 0.1) as response:
                assert response.status == 200
        async with await mark(http, web, 0.4, 0.1) as response:
            assert response.status == 429
            assert (await response.json())["error"].startswith("Slow down: try again in")
        async with await mark(http, web, 0.45, 0.1, member=BOB) as response:
            assert response.status == 200  # Bob has his own bucket
        web.cooldown_clock.now += 2.0
        async with await mark(http, web, 0.5, 0.1) as response:
            assert response.status == 200
    assert len(await web.rig.store.list_points(web.session_id)) == 6


async def test_undo_one_and_clear_all(web: WebRig) -> None:
    async with aiohttp.ClientSession() as http:
        for x in (0.2, 0.25, 0.72):
            async with await mark(http, web, x, 0.5 if x < 0.5 else 0.35):
                pass
        headers = {"X-Picker-Token": web.token(BOB)}
        points = await web.rig.store.list_points(web.session_id)
        async with http.post(
            web.api("api/undo"), json={"point": points[0].id}, headers=headers
        ) as response:
            state = await response.json()
        assert sorted(p["id"] for p in state["points"]) == [points[1].id, points[2].id]
        assert len(web.kling_clicks()[0]) == 2
        async with http.post(web.api("api/clear"), headers=headers) as response:
            assert (await response.json())["points"] == []
    assert web.kling_clicks() == {}


async def test_an_ended_session_says_so_and_refuses_changes(web: WebRig) -> None:
    await web.rig.service.end_session(web.session_id)
    async with aiohttp.ClientSession() as http:
        async with http.get(web.api("api/state"), params={"t": web.token()}) as response:
            assert response.status == 200
            assert (await response.json())["active"] is False
        async with await mark(http, web, 0.5, 0.5) as response:
            assert response.status == 410
            answer = await response.json()
    assert answer["ended"] is True and "has ended" in answer["error"]
    assert await web.rig.store.list_points(web.session_id) == []


async def test_messages_come_in_the_tokens_language(web: WebRig) -> None:
    await web.rig.service.end_session(web.session_id)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            web.api("api/mark"),
            json={"frame": 0, "x": 0.5, "y": 0.5},
            headers={"X-Picker-Token": web.token(locale="pt-BR")},
        ) as response:
            error = (await response.json())["error"]
        async with http.get(web.api(""), params={"t": web.token(locale="id")}) as response:
            page = await response.text()
    assert "has ended" not in error and "/kling edit" in error
    assert '<html lang="id">' in page and "Kling picker" not in page.split("<title>")[1][:40]


@pytest.mark.parametrize(
    "path",
    [
        "static/../../../../etc/passwd",
        "static/..%2f..%2fpicker.py",
        "static/%2e%2e%2fpicker.py",
        "static/picker.html",
        "static/",
        "static/..%2f..%2f",
        "static/picker.js%00.css",
        "static/..%5cpicker.py",
        "api/../../../etc/passwd",
        "static/picker.js/../../picker.py",
    ],
)
async def test_paths_cannot_leave_the_static_folder(web: WebRig, path: str) -> None:
    async with aiohttp.ClientSession() as http:
        # Sent as written: the client must not tidy the dots away before the server sees them.
        url = yarl.URL(
            f"{web.base_url}/picker/{web.session_id}/{path}?t={web.token()}", encoded=True
        )
        async with http.get(url) as response:
            assert response.status in (403, 404), path
            body = await response.read()
    assert b"import" not in body and b"root:" not in body


async def test_unknown_urls_are_404_and_only_callbacks_and_health_need_no_token(
    web: WebRig,
) -> None:
    async with aiohttp.ClientSession() as http:
        for path in (
            "/",
            "/picker/",
            "/picker/abc/",
            "/static/picker.js",
            "/favicon.ico",
            f"/picker/{web.session_id}/api/nothing",
        ):
            async with http.get(web.base_url + path) as response:
                assert response.status == 404, path
        async with http.get(web.base_url + "/healthz") as response:
            assert response.status == 200 and await response.json() == {"ok": True}
        async with http.post(web.base_url + "/kling/callback/job123", json={}) as response:
            assert response.status == 200  # Kling's callback shares the server


async def test_every_response_carries_csp_and_no_store(web: WebRig) -> None:
    token = web.token()
    async with aiohttp.ClientSession() as http:
        for method, url in [
            ("GET", web.api("") + f"?t={token}"),
            ("GET", web.api("api/frame/3") + f"?t={token}"),
            ("GET", web.api("api/masks/3") + f"?t={token}"),
            ("GET", web.api("api/state")),  # 403
            ("GET", web.base_url + "/nowhere"),  # 404
            ("GET", web.base_url + "/healthz"),
            ("POST", web.base_url + "/kling/callback/x"),
        ]:
            async with http.request(method, url) as response:
                assert response.headers["Content-Security-Policy"] == CSP, url
                assert response.headers["Cache-Control"] == "no-store", url
                assert response.headers["Referrer-Policy"] == "no-referrer", url
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP


async def test_the_frame_picture_is_the_video_frame_at_board_size(web: WebRig) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(web.api("api/frame/5"), headers={"X-Picker-Token": web.token()}) as response,
    ):
        assert response.content_type == "image/jpeg"
        body = await response.read()
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(body)).size == (1280, 720)


async def test_a_tokens_signature_needs_the_key(web: WebRig) -> None:
    assert SIGNING_KEY not in web.link()
    assert web.link().startswith(f"{web.base_url}/picker/{web.session_id}/?t=")


async def test_an_eleventh_marked_frame_gets_klings_limit_not_an_error_id(web: WebRig) -> None:
    async with aiohttp.ClientSession() as http:
        for frame in range(0, 22, 2):
            web.cooldown_clock.now += 2.0  # one mark a member may make every 2 s
            async with await mark(http, web, 0.5, 0.5, frame=frame) as response:
                said = await response.json()
                status = response.status
        # The eleventh frame is refused by the points limit, named as such (not a 500).
        assert status == 400, said
        assert "error id" not in said["error"]
        assert "10" in said["error"]
    stored = await web.rig.store.list_points(web.session_id)
    assert len({p.frame_index for p in stored}) == 10
