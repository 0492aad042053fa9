"""The web picker's routes (SPEC §10): a personal page on which a click marks a point.

Every route lives under ``/picker/{session_id}/`` and checks the signed token first: a missing,
forged, expired or other-session token gets 403 and nothing else happens. Reading routes take
the token from the ``X-Picker-Token`` header or the ``t`` query parameter (the page itself, its
two static files and the event stream are plain GETs that cannot carry a header); changing
routes accept it only in the header, so another site cannot make a member's browser send one
(a custom header needs a CORS preflight, which this server never grants), and no cookie is ever
used. Marks, undos and clears go through the same :class:`EditingService` methods as
``/kling mark``, ``/kling undo`` and ``/kling clear``, with the same per-member cooldown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from bot.cooldowns import SELECTION, CooldownError, Cooldowns
from bot.editing import EditingService
from bot.editing.boards import clamp_frame
from bot.editing.submitting import SESSION_ENDED
from bot.errors import UserFacingError, new_error_id, user_message_for
from bot.i18n import Msg
from bot.media import MediaError
from bot.policy import check_channel_enabled
from bot.storage import Session
from bot.web import texts
from bot.web.live import LiveHub
from bot.web.page import STATIC_TYPES, render_page, static_file
from bot.web.picture import PictureCache
from bot.web.state import picker_state, version_of
from bot.web.tokens import BadTokenError, PickerToken, TokenSigner

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Picker-Token"  # noqa: S105 - a header name, not a secret
PREFIX = "/picker/{sid:[0-9]{1,19}}/"
HEARTBEAT_SECONDS = 15.0
MAX_BODY_BYTES = 4096


class DiscordSide(Protocol):
    """What the picker needs from the Discord layer (the cogs provide it)."""

    async def board_changed(self, session_id: int) -> None:
        """Redraw the session's board in its channel, as after ``/kling mark``."""

    def member_name(self, guild_id: int, user_id: int) -> str | None:
        """The member's display name in that server, or None when unknown."""

    def parent_channel_id(self, channel_id: int) -> int | None:
        """The parent of a thread (its settings apply), or None."""


@dataclass
class _Request:
    token: PickerToken
    session: Session


def _forbidden() -> web.HTTPForbidden:
    return web.HTTPForbidden(text=str(texts.LINK_INVALID), content_type="text/plain")


def _json_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class Picker:
    """The picker's routes and links; `discord` is None in tests that do not need a board."""

    def __init__(
        self,
        service: EditingService,
        signer: TokenSigner,
        *,
        public_url: str,
        cooldowns: Cooldowns,
        discord: DiscordSide | None = None,
        hub: LiveHub | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.signer = signer
        self.public_url = public_url.rstrip("/")
        self.cooldowns = cooldowns
        self.discord = discord
        self.hub = hub or LiveHub(self.version)
        self.pictures = PictureCache(service.media_dir)
        self._refreshes: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()

    def link(self, *, session_id: int, member_id: int, locale: object = None) -> str:
        """The personal link a member opens (valid `link_minutes`)."""
        token = self.signer.sign(member_id=member_id, session_id=session_id, locale=locale)
        return f"{self.public_url}/picker/{session_id}/?t={token}"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PREFIX, self.page)
        app.router.add_get(PREFIX + "static/{name}", self.static)
        app.router.add_get(PREFIX + "api/state", self.state)
        app.router.add_get(PREFIX + "api/frame/{frame:[0-9]{1,6}}", self.frame)
        app.router.add_get(PREFIX + "api/masks/{frame:[0-9]{1,6}}", self.masks)
        app.router.add_get(PREFIX + "api/events", self.events)
        app.router.add_post(PREFIX + "api/mark", self.mark)
        app.router.add_post(PREFIX + "api/undo", self.undo)
        app.router.add_post(PREFIX + "api/clear", self.clear)
        app.on_shutdown.append(self._shutdown)

    async def _shutdown(self, _app: web.Application) -> None:
        self._closing.set()
        await self.hub.close()
        for task in list(self._refreshes):
            task.cancel()

    # ----- checks -----

    async def _check(self, request: web.Request, *, header_only: bool = False) -> _Request:
        session_id = int(request.match_info["sid"])
        token = request.headers.get(TOKEN_HEADER)
        if token is None and not header_only:
            token = request.query.get("t")
        try:
            claims = self.signer.verify(token, session_id=session_id)
        except BadTokenError as refused:
            log.info("picker %s %s refused: %s", request.method, request.path, refused.reason)
            raise _forbidden() from None
        session = await self.store.get_session(session_id)
        if session is None:
            raise web.HTTPGone(text=SESSION_ENDED.render(claims.locale))
        return _Request(claims, session)

    async def version(self, session_id: int) -> str:
        session = await self.store.get_session(session_id)
        return version_of(session, await self.store.list_points(session_id))

    # ----- reading -----

    async def page(self, request: web.Request) -> web.Response:
        checked = await self._check(request)
        token = request.headers.get(TOKEN_HEADER) or request.query["t"]
        body = render_page(token=token, session_id=checked.session.id, locale=checked.token.locale)
        return web.Response(text=body, content_type="text/html")

    async def static(self, request: web.Request) -> web.Response:
        await self._check(request)
        name = request.match_info["name"]
        body = static_file(name)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type=STATIC_TYPES[name], charset="utf-8")

    async def state(self, request: web.Request) -> web.Response:
        checked = await self._check(request)
        return web.json_response(await self._state(checked))

    async def _state(self, checked: _Request) -> dict[str, Any]:
        member_name = self.discord.member_name if self.discord else None
        return await picker_state(self.store, checked.session, checked.token, member_name)

    async def frame(self, request: web.Request) -> web.Response:
        """The frame at board size without masks: it never changes, the page keeps it."""
        checked = await self._check(request)
        session = checked.session
        index = clamp_frame(session, int(request.match_info["frame"]))
        video = self._video(checked)
        try:
            picture = await self.pictures.frame(session_id=session.id, video=video, frame=index)
        except (MediaError, OSError):
            log.warning(
                "picker: frame %s of session %s cannot be drawn", index, session.id, exc_info=True
            )
            raise web.HTTPNotFound() from None
        return web.Response(body=picture, content_type="image/jpeg")

    async def masks(self, request: web.Request) -> web.Response:
        """The frame's masks as overlays the page draws over the frame (`_masks`)."""
        checked = await self._check(request)
        session = checked.session
        index = clamp_frame(session, int(request.match_info["frame"]))
        version = version_of(session, await self.store.list_points(session.id))
        try:
            return web.json_response(await self._masks(checked, index, version))
        except (MediaError, OSError):
            log.warning(
                "picker: masks of frame %s of session %s cannot be drawn",
                index,
                session.id,
                exc_info=True,
            )
            raise web.HTTPNotFound() from None

    def _video(self, checked: _Request) -> Path:
        if not checked.session.local_path:
            raise web.HTTPGone(text=SESSION_ENDED.render(checked.token.locale))
        return Path(checked.session.local_path)

    async def _masks(self, checked: _Request, index: int, version: str) -> dict[str, Any]:
        """``{"frame", "version", "width", "height", "overlays": [{"box", "webp"}]}``: one
        overlay per object, its box in pixels of a frame ``width`` x ``height``."""
        session = checked.session
        overlays = await self.pictures.masks(
            session_id=session.id,
            video=self._video(checked),
            frame=index,
            masks=await self.store.get_frame_masks(session.id, index),
        )
        return {"frame": index, "version": version, **overlays}

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``version`` whenever the session's points change."""
        checked = await self._check(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        async with self.hub.listen(checked.session.id) as queue:
            version = await self.version(checked.session.id)
            await response.write(f"retry: 1000\nevent: version\ndata: {version}\n\n".encode())
            closing = asyncio.ensure_future(self._closing.wait())
            try:
                while not self._closing.is_set():
                    remaining = checked.token.expires_at - self.signer.now()
                    if remaining <= 0:
                        await response.write(b"event: expired\ndata: 1\n\n")
                        break
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        {getter, closing},
                        timeout=min(HEARTBEAT_SECONDS, remaining),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if getter in done:
                        await response.write(
                            f"event: version\ndata: {getter.result()}\n\n".encode()
                        )
                    else:
                        getter.cancel()
                        await response.write(b": keep-alive\n\n")
            except (ConnectionResetError, asyncio.CancelledError):
                pass
            finally:
                closing.cancel()
        return response

    # ----- changing -----

    async def mark(self, request: web.Request) -> web.Response:
        async def change(checked: _Request, body: dict[str, Any]) -> int | None:
            frame, x, y = body.get("frame"), body.get("x"), body.get("y")
            if not (
                isinstance(frame, int) and not isinstance(frame, bool) and _unit(x) and _unit(y)
            ):
                raise UserFacingError(texts.BAD_CLICK)
            # No board drawn on the way: the answer carries the marked frame's overlays, and the
            # channel's board follows it (_refresh_board).
            return await self.service.mark_points(
                checked.session.id,
                points=f"{x:.6f},{y:.6f}",
                user_id=checked.token.member_id,
                frame=frame,
            )

        return await self._change(request, change)

    async def undo(self, request: web.Request) -> web.Response:
        async def change(checked: _Request, body: dict[str, Any]) -> int | None:
            point = body.get("point")
            if point is not None and (not isinstance(point, int) or isinstance(point, bool)):
                raise UserFacingError(Msg("That point is not on this session's board any more."))
            await self.service.undo(
                checked.session.id, user_id=checked.token.member_id, point_id=point
            )
            return _shown_frame(checked, body)

        return await self._change(request, change)

    async def clear(self, request: web.Request) -> web.Response:
        async def change(checked: _Request, body: dict[str, Any]) -> int | None:
            await self.service.clear(checked.session.id, user_id=checked.token.member_id)
            return _shown_frame(checked, body)

        return await self._change(request, change)

    async def _change(
        self,
        request: web.Request,
        change: Callable[[_Request, dict[str, Any]], Awaitable[int | None]],
    ) -> web.Response:
        """Check, rate-limit and make `change`. The answer is the new state, with the masks of
        the frame `change` returns (the page's frame): the page needs no second request."""
        checked = await self._check(request, header_only=True)
        locale = checked.token.locale
        session = checked.session
        try:
            body = await _read_json(request)
            if not session.is_active:
                return _json_error(410, SESSION_ENDED.render(locale), ended=True)
            settings = await self.store.get_settings(session.guild_id)
            parent = self.discord.parent_channel_id(session.channel_id) if self.discord else None
            check_channel_enabled(settings, session.channel_id, parent_channel_id=parent)
            wait = self.cooldowns.take(SELECTION, checked.token.member_id, session.channel_id)
            if wait is not None:
                refused = CooldownError(wait)
                return _json_error(
                    429, user_message_for(refused, locale) or str(refused), retryAfter=wait
                )
            frame = await change(checked, body)
        except Exception as error:
            # Refusals carry their own sentence (a UserFacingError, and also storage errors such
            # as the points limit); only an error without one is ours to apologise for.
            told = user_message_for(error, locale)
            if told is not None:
                now = await self.store.get_session(session.id)
                ended = now is None or not now.is_active
                return _json_error(410 if ended else 400, told, ended=ended)
            error_id = new_error_id()
            log.exception("picker change on session %s failed (error id %s)", session.id, error_id)
            message = Msg(
                "Something went wrong on our side (error id `{error_id}`).", error_id=error_id
            )
            return _json_error(500, message.render(locale))
        answer = await self._state(checked)
        if frame is not None:
            try:
                answer["masks"] = await self._masks(checked, frame, answer["version"])
            except (MediaError, OSError, web.HTTPGone):
                # The change is made; the page asks for the masks and is told what is wrong.
                log.warning("picker: masks of frame %s not drawn", frame, exc_info=True)
        # The channel's board after the page's overlays: on a busy machine two drawings at
        # once would both be late, and the member who clicked is watching the page.
        self._refresh_board(session.id)
        await self.hub.changed(session.id)
        return web.json_response(answer)

    def _refresh_board(self, session_id: int) -> None:
        if self.discord is None:
            return
        task = asyncio.create_task(
            self._board_changed(session_id), name=f"picker board refresh {session_id}"
        )
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _board_changed(self, session_id: int) -> None:
        discord = self.discord
        if discord is None:  # checked by _refresh_board; kept explicit for the type checker
            return
        try:
            await discord.board_changed(session_id)
        except Exception:
            log.warning(
                "could not refresh the board of session %s after a web change",
                session_id,
                exc_info=True,
            )


def _shown_frame(checked: _Request, body: dict[str, Any]) -> int | None:
    """The frame the page shows (``frame`` in a change's body), whose masks the answer carries."""
    frame = body.get("frame")
    if not isinstance(frame, int) or isinstance(frame, bool):
        return None
    return clamp_frame(checked.session, frame)


def _unit(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


async def _read_json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise UserFacingError(texts.BAD_CLICK)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise UserFacingError(texts.BAD_CLICK)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise UserFacingError(texts.BAD_CLICK) from None
    if not isinstance(body, dict):
        raise UserFacingError(texts.BAD_CLICK)
    return body
