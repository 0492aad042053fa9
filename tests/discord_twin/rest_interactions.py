"""Interaction callbacks and the interaction webhook (followups, @original), rules enforced."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .bodies import MessageBody, apply_edit, new_files, read_body, too_large, validate_message
from .errors import (
    INTERACTION_ALREADY_ACKNOWLEDGED,
    INVALID_FORM_BODY,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    api_error,
    json_response,
)
from .model import EPHEMERAL_FLAG, LOADING_FLAG, TwinMessage
from .payloads import message_json
from .records import (
    ACK_DEADLINE_SECONDS,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MODAL,
    TOKEN_LIFETIME_SECONDS,
    UPDATE_MESSAGE,
    InteractionRecord,
)

if TYPE_CHECKING:
    from .twin import DiscordTwin

API = "/api/v10"
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
# Which callback types each interaction type accepts.
ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
        MODAL,
    },
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
    },
}


def add_routes(app: web.Application, twin: DiscordTwin) -> None:
    r = InteractionRoutes(twin)
    app.router.add_post(API + "/interactions/{iid}/{token}/callback", r.callback)
    hook = API + "/webhooks/{app}/{token}"
    app.router.add_post(hook, r.followup)
    app.router.add_get(hook + "/messages/{message}", r.get_message)
    app.router.add_patch(hook + "/messages/{message}", r.edit_message)
    app.router.add_delete(hook + "/messages/{message}", r.delete_message)


class InteractionRoutes:
    def __init__(self, twin: DiscordTwin) -> None:
        self.twin = twin

    # -- the initial response --------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        twin = self.twin
        arrived = twin.clock.now()  # before reading the body: see InteractionRecord.acked_at
        rec = twin.interactions.get(int(request.match_info["iid"]))
        if rec is None or rec.token != request.match_info["token"]:
            return api_error(404, UNKNOWN_INTERACTION, "Unknown interaction")
        body = await read_body(request)
        age = arrived - rec.created_at
        if rec.ack_type is None and age > ACK_DEADLINE_SECONDS:
            twin.violate(
                UNKNOWN_INTERACTION,
                f"interaction {rec.id} acknowledged after {age:.1f} s (limit 3 s)",
                rec.id,
            )
            return api_error(404, UNKNOWN_INTERACTION, "Unknown interaction")
        if rec.ack_type is not None:
            twin.violate(
                INTERACTION_ALREADY_ACKNOWLEDGED, f"interaction {rec.id} acknowledged twice", rec.id
            )
            return api_error(
                400, INTERACTION_ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged."
            )
        ctype = int(body.payload.get("type", 0))
        if ctype not in ALLOWED_CALLBACKS.get(rec.type, set()):
            return api_error(
                400,
                INVALID_FORM_BODY,
                "Invalid Form Body",
                {"type": f"callback {ctype} is not valid for interaction {rec.type}"},
            )
        data = body.payload.get("data") or {}
        resource: dict[str, Any] = {"type": ctype}
        message: TwinMessage | None = None
        if ctype == CHANNEL_MESSAGE:
            problem = self._check_message(rec, MessageBody(data, body.uploads), creating=True)
            if problem:
                return problem
            message = self._new_response_message(rec, MessageBody(data, body.uploads))
            rec.original_message_id = message.id
        elif ctype == DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING_FLAG | (int(data.get("flags") or 0) & EPHEMERAL_FLAG)
            message = self._new_response_message(rec, MessageBody({"flags": flags}))
            rec.original_message_id = message.id
        elif ctype in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            source = twin.find_message(rec.source_message_id or 0)
            if source is None:
                return api_error(
                    400,
                    INVALID_FORM_BODY,
                    "Invalid Form Body",
                    {"type": "there is no message to update"},
                )
            rec.original_message_id = source.id
            if ctype == UPDATE_MESSAGE:
                edit = MessageBody(data, body.uploads)
                if problem := self._check_message(rec, edit, creating=False):
                    return problem
                apply_edit(twin, source, edit)
                twin.message_updated(source)
                message = source
        elif ctype == AUTOCOMPLETE_RESULT:
            choices = data.get("choices") or []
            if len(choices) > 25:
                return api_error(
                    400,
                    INVALID_FORM_BODY,
                    "Invalid Form Body",
                    {"choices": "Must be 25 or fewer in length."},
                )
            rec.choices = choices
        elif ctype == MODAL:
            rec.modal = data
        rec.ack_type = ctype
        rec.acked_at = arrived
        rec.ephemeral = bool(message and message.ephemeral)
        rec.acked.set()
        twin.notify()
        if message is not None:
            resource["message"] = message_json(message, twin)
        result = {
            "interaction": {
                "id": str(rec.id),
                "type": rec.type,
                "activity_instance_id": None,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": ctype == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": rec.ephemeral,
            },
            "resource": resource,
        }
        return json_response(result)

    def _check_message(
        self, rec: InteractionRecord, body: MessageBody, *, creating: bool
    ) -> web.Response | None:
        guild = self.twin.guilds.get(rec.guild_id or 0)
        limit = guild.upload_limit if guild else 10 * 1024 * 1024
        return too_large(body.uploads, limit) or validate_message(
            body.payload, body.uploads, creating=creating
        )

    def _new_response_message(self, rec: InteractionRecord, body: MessageBody) -> TwinMessage:
        twin = self.twin
        channel = twin.channels[rec.channel_id]
        payload = body.payload
        flags = int(payload.get("flags") or 0)
        ephemeral = bool(flags & EPHEMERAL_FLAG)
        metadata: dict[str, Any] = {
            "id": str(rec.id),
            "type": rec.type,
            "user": rec.user.to_json(),
            "authorizing_integration_owners": {"0": str(rec.guild_id)} if rec.guild_id else {},
        }
        data = rec.payload.get("data") or {}
        if rec.type == APPLICATION_COMMAND:
            metadata["name"] = data.get("name")
            metadata["command_type"] = data.get("type", 1)
            msg_type = 20 if data.get("type", 1) == 1 else 23
        else:
            if rec.source_message_id:
                metadata["interacted_message_id"] = str(rec.source_message_id)
            msg_type = 0
        if rec.original_message_id is not None:
            metadata["original_response_message_id"] = str(rec.original_message_id)
        return twin.create_message(
            channel,
            twin.bot_user,
            content=payload.get("content") or "",
            embeds=payload.get("embeds") or [],
            components=payload.get("components") or [],
            files=new_files(twin, channel.id, body, ephemeral=ephemeral),
            flags=flags,
            type=msg_type,
            visible_to=rec.user.id if ephemeral else None,
            webhook_id=twin.application_id,
            application_id=twin.application_id,
            interaction_metadata=metadata,
        )

    # -- the interaction webhook -----------------------------------------------------------

    def _webhook(self, request: web.Request) -> InteractionRecord | web.Response:
        twin = self.twin
        if request.match_info["app"] != str(twin.application_id):
            return api_error(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        rec = twin.interaction_by_token(request.match_info["token"])
        if rec is None:
            return api_error(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        age = twin.clock.now() - rec.created_at
        if age > TOKEN_LIFETIME_SECONDS:
            twin.violate(
                INVALID_WEBHOOK_TOKEN,
                f"interaction {rec.id} token used after {age / 60:.1f} min (limit 15 min)",
                rec.id,
            )
            return api_error(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        if rec.ack_type is None:
            twin.violate(
                UNKNOWN_WEBHOOK, f"interaction {rec.id} webhook used before acknowledging", rec.id
            )
            return api_error(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        return rec

    def _target(self, rec: InteractionRecord, request: web.Request) -> TwinMessage | None:
        ref = request.match_info["message"]
        if ref == "@original":
            mid = rec.original_message_id
        else:
            mid = int(ref)
            if mid != rec.original_message_id and mid not in rec.followup_ids:
                return None
        msg = self.twin.find_message(mid or 0)
        return None if msg is None or msg.deleted else msg

    async def followup(self, request: web.Request) -> web.Response:
        arrived = self.twin.clock.now()
        rec = self._webhook(request)
        if isinstance(rec, web.Response):
            return rec
        body = await read_body(request)
        if problem := self._check_message(rec, body, creating=True):
            return problem
        rec.answered_at.append(arrived)
        original = self.twin.find_message(rec.original_message_id or 0)
        if rec.ack_type == DEFERRED_CHANNEL_MESSAGE and original is not None and original.loading:
            # The first followup after a "thinking" defer replaces the loading message.
            apply_edit(self.twin, original, body)
            self.twin.message_updated(original)
            return json_response(message_json(original, self.twin))
        msg = self._new_response_message(rec, body)
        rec.followup_ids.append(msg.id)
        return json_response(message_json(msg, self.twin))

    def _webhook_message(
        self, request: web.Request
    ) -> tuple[InteractionRecord, TwinMessage] | web.Response:
        """The interaction and the response message a webhook path names, or Discord's error."""
        rec = self._webhook(request)
        if isinstance(rec, web.Response):
            return rec
        msg = self._target(rec, request)
        if msg is None:
            return api_error(404, UNKNOWN_MESSAGE, "Unknown Message")
        return rec, msg

    async def get_message(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        _rec, msg = found
        return json_response(message_json(msg, self.twin))

    async def edit_message(self, request: web.Request) -> web.Response:
        arrived = self.twin.clock.now()
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        rec, msg = found
        body = await read_body(request)
        if problem := self._check_message(rec, body, creating=False):
            return problem
        rec.answered_at.append(arrived)
        apply_edit(self.twin, msg, body)
        self.twin.message_updated(msg)
        return json_response(message_json(msg, self.twin))

    async def delete_message(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        _rec, msg = found
        self.twin.delete_message(msg)
        return web.Response(status=204)
