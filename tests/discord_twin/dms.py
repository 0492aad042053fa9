"""Direct messages: the bot opens a DM channel with a user and posts in it.

`POST /users/@me/channels` opens (or finds) the DM channel; posting in it uses the usual
`POST /channels/{id}/messages` route, which hands DM channels to :meth:`DirectMessages.post`.
A user who does not accept DMs from server members (`refuse_dms`) gets Discord's
403 50007 "Cannot send messages to this user".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .bodies import new_files, read_body, validate_message
from .errors import INVALID_FORM_BODY, api_error, json_response
from .model import TwinChannel, TwinMessage
from .payloads import message_json

if TYPE_CHECKING:
    from .twin import DiscordTwin

API = "/api/v10"
DM_CHANNEL = 1
CANNOT_SEND_TO_USER = 50007
DIRECT_MESSAGES_INTENT_BIT = 12


class DirectMessages:
    def __init__(self, twin: DiscordTwin) -> None:
        self.twin = twin
        self.by_user: dict[int, TwinChannel] = {}
        self.refusing: set[int] = set()

    def refuse_dms(self, user_id: int) -> None:
        """This user's privacy settings refuse DMs from the bot."""
        self.refusing.add(user_id)

    def messages_to(self, user_id: int) -> list[TwinMessage]:
        channel = self.by_user.get(user_id)
        return sorted(channel.visible_messages(), key=lambda m: m.id) if channel else []

    def channel_json(self, channel: TwinChannel, user_id: int) -> dict[str, Any]:
        last_id = max(channel.messages, default=None)
        return {
            "id": str(channel.id),
            "type": DM_CHANNEL,
            "last_message_id": str(last_id) if last_id else None,
            "flags": 0,
            "recipients": [self.twin.users[user_id].to_json()],
        }

    async def open(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            user_id = int(body["recipient_id"])
        except (KeyError, TypeError, ValueError):
            return api_error(400, INVALID_FORM_BODY, "Invalid Form Body")
        if user_id not in self.twin.users or user_id == self.twin.bot_user.id:
            return api_error(400, INVALID_FORM_BODY, "Invalid Recipient(s)")
        channel = self.by_user.get(user_id)
        if channel is None:
            # guild_id None: a DM belongs to no server (messages carry no guild_id).
            channel = TwinChannel(
                self.twin.ids.next(),
                None,
                "",
                type=DM_CHANNEL,  # type: ignore[arg-type]
                twin=self.twin,
            )
            self.by_user[user_id] = channel
            self.twin.channels[channel.id] = channel
        return json_response(self.channel_json(channel, user_id))

    async def post(self, request: web.Request, channel: TwinChannel) -> web.Response:
        user_id = next(u for u, c in self.by_user.items() if c is channel)
        if user_id in self.refusing:
            return api_error(403, CANNOT_SEND_TO_USER, "Cannot send messages to this user")
        body = await read_body(request)
        if problem := validate_message(body.payload, body.uploads, creating=True):
            return problem
        payload = body.payload
        msg = TwinMessage(
            id=self.twin.ids.next(),
            channel_id=channel.id,
            guild_id=None,
            author=self.twin.bot_user,
            content=payload.get("content") or "",
            embeds=payload.get("embeds") or [],
            components=payload.get("components") or [],
            files=new_files(self.twin, channel.id, body),
            flags=0,
            type=0,
            timestamp=self.twin.iso_now(),
        )
        channel.messages[msg.id] = msg
        data = message_json(msg, self.twin)
        self.twin.gateway.dispatch(
            "MESSAGE_CREATE", data, guild_id=None, intent_bit=DIRECT_MESSAGES_INTENT_BIT
        )
        self.twin.notify()
        return json_response(data)


def add_routes(app: web.Application, twin: DiscordTwin) -> None:
    app.router.add_post(API + "/users/@me/channels", twin.dms.open)
