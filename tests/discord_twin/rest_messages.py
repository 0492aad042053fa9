"""Channel message and thread routes, called with the bot token."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from aiohttp import web

from .bodies import apply_edit, new_files, read_body, too_large, validate_message
from .dms import DM_CHANNEL
from .errors import (
    CANNOT_EDIT_OTHER_USERS_MESSAGE,
    MISSING_PERMISSIONS,
    UNKNOWN_CHANNEL,
    UNKNOWN_MESSAGE,
    api_error,
    json_response,
)
from .model import EPHEMERAL_FLAG, TwinChannel, TwinMessage
from .payloads import channel_json, message_json

if TYPE_CHECKING:
    from .twin import DiscordTwin

API = "/api/v10"
P = discord.Permissions


def add_routes(app: web.Application, twin: DiscordTwin) -> None:
    r = MessageRoutes(twin)
    base = API + "/channels/{channel}"
    app.router.add_get(base + "/messages", r.list_messages)
    app.router.add_post(base + "/messages", r.create)
    app.router.add_get(base + "/messages/{message}", r.fetch)
    app.router.add_patch(base + "/messages/{message}", r.edit)
    app.router.add_delete(base + "/messages/{message}", r.delete)
    app.router.add_post(base + "/messages/{message}/threads", r.thread_from_message)
    app.router.add_post(base + "/threads", r.thread_in_channel)
    app.router.add_put(base + "/messages/{message}/reactions/{emoji}/@me", r.react)
    app.router.add_post(base + "/typing", r.typing)
    app.router.add_put(base + "/thread-members/@me", r.no_content)
    app.router.add_delete(base + "/thread-members/@me", r.no_content)


class MessageRoutes:
    def __init__(self, twin: DiscordTwin) -> None:
        self.twin = twin

    def _channel(self, request: web.Request) -> TwinChannel | None:
        return self.twin.channels.get(int(request.match_info["channel"]))

    def _message(self, request: web.Request, channel: TwinChannel) -> TwinMessage | None:
        msg = channel.messages.get(int(request.match_info["message"]))
        # Ephemeral messages cannot be reached with the bot token.
        if msg is None or msg.deleted or msg.flags & EPHEMERAL_FLAG:
            return None
        return msg

    def _channel_message(
        self, request: web.Request
    ) -> tuple[TwinChannel, TwinMessage] | web.Response:
        """The channel and the message a path names, or Discord's 404 for whichever is unknown."""
        channel = self._channel(request)
        if channel is None:
            return api_error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        msg = self._message(request, channel)
        if msg is None:
            return api_error(404, UNKNOWN_MESSAGE, "Unknown Message")
        return channel, msg

    def _missing(self, channel: TwinChannel, *needed: int) -> web.Response | None:
        have = self.twin.bot_permissions(channel)
        for perm in needed:
            if not have & perm:
                return api_error(403, MISSING_PERMISSIONS, "Missing Permissions")
        return None

    def _send_perm(self, channel: TwinChannel) -> int:
        return P.send_messages_in_threads.flag if channel.is_thread else P.send_messages.flag

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return api_error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        if denied := self._missing(channel, P.view_channel.flag, P.read_message_history.flag):
            return denied
        limit = min(int(request.query.get("limit", 50)), 100)
        msgs = [m for m in channel.visible_messages() if not m.ephemeral]
        if "before" in request.query:
            msgs = [m for m in msgs if m.id < int(request.query["before"])]
        if "after" in request.query:
            msgs = [m for m in msgs if m.id > int(request.query["after"])]
            msgs = sorted(msgs, key=lambda m: m.id)[:limit]
        msgs = sorted(msgs, key=lambda m: m.id, reverse=True)[:limit]
        return json_response([message_json(m, self.twin) for m in msgs])

    async def create(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return api_error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        if channel.type == DM_CHANNEL:
            return await self.twin.dms.post(request, channel)
        body = await read_body(request)
        needed = [P.view_channel.flag, self._send_perm(channel)]
        if body.uploads:
            needed.append(P.attach_files.flag)
        if denied := self._missing(channel, *needed):
            return denied
        guild = self.twin.guilds[channel.guild_id]
        if problem := too_large(body.uploads, guild.upload_limit) or validate_message(
            body.payload, body.uploads, creating=True
        ):
            return problem
        payload = body.payload
        reference = payload.get("message_reference")
        msg = self.twin.create_message(
            channel,
            self.twin.bot_user,
            content=payload.get("content") or "",
            embeds=payload.get("embeds") or [],
            components=payload.get("components") or [],
            files=new_files(self.twin, channel.id, body),
            flags=int(payload.get("flags") or 0) & ~EPHEMERAL_FLAG,
            type=19 if reference else 0,
            message_reference=reference,
        )
        return json_response(message_json(msg, self.twin))

    async def fetch(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return api_error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        if denied := self._missing(channel, P.view_channel.flag, P.read_message_history.flag):
            return denied
        msg = self._message(request, channel)
        if msg is None:
            return api_error(404, UNKNOWN_MESSAGE, "Unknown Message")
        return json_response(message_json(msg, self.twin))

    async def edit(self, request: web.Request) -> web.Response:
        found = self._channel_message(request)
        if isinstance(found, web.Response):
            return found
        channel, msg = found
        if msg.author.id != self.twin.bot_user.id:
            return api_error(
                403,
                CANNOT_EDIT_OTHER_USERS_MESSAGE,
                "Cannot edit a message authored by another user",
            )
        body = await read_body(request)
        if body.uploads and (denied := self._missing(channel, P.attach_files.flag)):
            return denied
        guild = self.twin.guilds[channel.guild_id]
        if problem := too_large(body.uploads, guild.upload_limit) or validate_message(
            body.payload, body.uploads, creating=False
        ):
            return problem
        apply_edit(self.twin, msg, body)
        self.twin.message_updated(msg)
        return json_response(message_json(msg, self.twin))

    async def delete(self, request: web.Request) -> web.Response:
        found = self._channel_message(request)
        if isinstance(found, web.Response):
            return found
        channel, msg = found
        if msg.author.id != self.twin.bot_user.id and (
            denied := self._missing(channel, P.manage_messages.flag)
        ):
            return denied
        self.twin.delete_message(msg)
        return web.Response(status=204)

    async def thread_from_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None or channel.is_thread:
            return api_error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        msg = self._message(request, channel)
        if msg is None:
            return api_error(404, UNKNOWN_MESSAGE, "Unknown Message")
        if denied := self._missing(channel, P.create_public_threads.flag):
            return denied
        if msg.id in self.twin.channels:
            return api_error(400, 160004, "A thread has already been created for this message")
        body = await read_body(request)
        # A thread started from a message reuses that message's id.
        thread = self.twin.create_thread(
            channel, body.payload.get("name", "thread"), thread_id=msg.id
        )
        return json_response(channel_json(thread, self.twin), status=201)

    async def thread_in_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None or channel.is_thread:
            return api_error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        body = await read_body(request)
        ttype = int(body.payload.get("type") or 12)
        perm = P.create_public_threads if ttype == 11 else P.create_private_threads
        if denied := self._missing(channel, perm.flag):
            return denied
        thread = self.twin.create_thread(channel, body.payload.get("name", "thread"), type=ttype)
        return json_response(channel_json(thread, self.twin), status=201)

    async def react(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel) if channel else None
        if msg is None:
            return api_error(404, UNKNOWN_MESSAGE, "Unknown Message")
        msg.reactions.append(request.match_info["emoji"])
        self.twin.notify()
        return web.Response(status=204)

    async def typing(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)
