"""The aiohttp app: REST v10 under /api/v10, the gateway at /gateway and the CDN at /cdn."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import INVALID_FORM_BODY, UNKNOWN_APPLICATION_COMMAND, api_error, json_response
from .model import RecordedRequest
from .payloads import channel_json, guild_create_json

if TYPE_CHECKING:
    from .twin import DiscordTwin

API = "/api/v10"
MAX_REQUEST_BYTES = 512 * 1024 * 1024
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
# Routes authenticated by the interaction token instead of the bot token.
TOKEN_ROUTES = re.compile(r"^/(interactions|webhooks)/")


def build_app(twin: DiscordTwin) -> web.Application:
    from . import dms, rest_interactions, rest_messages

    app = web.Application(middlewares=[_twin_middleware(twin)], client_max_size=MAX_REQUEST_BYTES)
    meta = MetaRoutes(twin)
    app.router.add_get(API + "/users/@me", meta.me)
    app.router.add_get(API + "/users/@me/guilds", meta.my_guilds)
    app.router.add_get(API + "/oauth2/applications/@me", meta.application)
    app.router.add_get(API + "/applications/@me", meta.application)
    app.router.add_get(API + "/gateway", meta.gateway)
    app.router.add_get(API + "/gateway/bot", meta.gateway_bot)
    for prefix in ("/applications/{app}/commands", "/applications/{app}/guilds/{guild}/commands"):
        app.router.add_get(API + prefix, meta.list_commands)
        app.router.add_put(API + prefix, meta.overwrite_commands)
        app.router.add_post(API + prefix, meta.upsert_command)
        app.router.add_get(API + prefix + "/{cmd}", meta.get_command)
        app.router.add_delete(API + prefix + "/{cmd}", meta.delete_command)
    app.router.add_get(API + "/guilds/{guild}", meta.guild)
    app.router.add_get(API + "/guilds/{guild}/channels", meta.guild_channels)
    app.router.add_get(API + "/guilds/{guild}/members/{user}", meta.guild_member)
    app.router.add_get(API + "/channels/{channel}", meta.channel)
    rest_messages.add_routes(app, twin)
    dms.add_routes(app, twin)
    rest_interactions.add_routes(app, twin)
    app.router.add_get("/gateway", twin.gateway.handle)
    app.router.add_get("/default-gateway-trap", twin.gateway.trap)
    app.router.add_get("/cdn/attachments/{channel}/{file_id}/{name}", twin.cdn.handle)
    return app


def _twin_middleware(twin: DiscordTwin) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        api_path = path[len(API) :] if path.startswith(API) else None
        if request.match_info.http_exception is not None:
            twin.unknown_routes.append(f"{request.method} {path}")
            twin.notify()
            response: web.StreamResponse = api_error(404, 0, "404: Not Found")
        elif api_path is not None and (limited := twin.rate_limits.check(request.method, api_path)):
            response = limited
        elif (
            api_path is not None
            and not TOKEN_ROUTES.match(api_path)
            and request.headers.get("Authorization") != f"Bot {twin.token}"
        ):
            response = api_error(401, 0, "401: Unauthorized")
        else:
            response = await handler(request)
        if api_path is not None:
            twin.requests.append(
                RecordedRequest(request.method, api_path, response.status, dict(request.query))
            )
        return response

    return middleware


class MetaRoutes:
    """Log-in, gateway discovery, application commands and read-only guild/channel lookups."""

    def __init__(self, twin: DiscordTwin) -> None:
        self.twin = twin

    async def me(self, request: web.Request) -> web.Response:
        user = self.twin.bot_user.to_json()
        user.update(verified=True, mfa_enabled=False, email=None, locale="en-US", premium_type=0)
        return json_response(user)

    async def my_guilds(self, request: web.Request) -> web.Response:
        """Partial guilds in id order, paged with before/after/limit (1-200, default 200), each
        with the bot's server-wide permissions as a string, as Discord sends them."""
        try:
            limit = int(request.query.get("limit", 200))
            after = int(request.query.get("after", 0))
            before = int(request.query.get("before", 0)) or None
        except ValueError:
            return api_error(400, INVALID_FORM_BODY, "Invalid Form Body")
        if not 1 <= limit <= 200:
            return api_error(400, INVALID_FORM_BODY, "Invalid Form Body")
        bot_id = self.twin.bot_user.id
        guilds = sorted(
            (
                g
                for g in self.twin.guilds.values()
                if bot_id in g.members and g.id > after and (before is None or g.id < before)
            ),
            key=lambda g: g.id,
        )
        return json_response(
            [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "icon": None,
                    "banner": None,
                    "owner": g.owner_id == bot_id,
                    "permissions": str(g.base_permissions(bot_id)),
                    "features": [],
                }
                for g in guilds[:limit]
            ]
        )

    async def application(self, request: web.Request) -> web.Response:
        twin = self.twin
        owner = twin.add_user("app owner") if not hasattr(self, "_owner") else self._owner
        self._owner = owner
        return json_response(
            {
                "id": str(twin.application_id),
                "name": twin.bot_user.global_name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": owner.to_json(),
                "team": None,
                "bot": twin.bot_user.to_json(),
                "approximate_guild_count": len(twin.guilds),
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "tags": [],
                "integration_types_config": {"0": {}},
            }
        )

    async def gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.twin.gateway_url})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.twin.gateway_url,
                "shards": self.twin.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    def _scope(self, request: web.Request) -> list[dict[str, Any]] | None:
        if int(request.match_info["app"]) != self.twin.application_id:
            return None
        guild = request.match_info.get("guild")
        if guild is None:
            return self.twin.global_commands
        return self.twin.guild_commands.setdefault(int(guild), [])

    async def list_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if scope is None:
            return api_error(403, 50001, "Missing Access")
        return json_response(scope)

    async def get_command(self, request: web.Request) -> web.Response:
        for cmd in self._scope(request) or []:
            if cmd["id"] == request.match_info["cmd"]:
                return json_response(cmd)
        return api_error(404, UNKNOWN_APPLICATION_COMMAND, "Unknown application command")

    async def delete_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request) or []
        scope[:] = [c for c in scope if c["id"] != request.match_info["cmd"]]
        return web.Response(status=204)

    async def overwrite_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if scope is None:
            return api_error(403, 50001, "Missing Access")
        body = await request.json()
        problems = {str(i): p for i, cmd in enumerate(body) if (p := command_problem(cmd))}
        if problems:
            return api_error(400, INVALID_FORM_BODY, "Invalid Form Body", problems)
        old = {(c["name"], c.get("type", 1)): c["id"] for c in scope}
        guild = request.match_info.get("guild")
        scope[:] = [self._stored(cmd, old, guild) for cmd in body]
        self.twin.notify()
        return json_response(scope)

    async def upsert_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if scope is None:
            return api_error(403, 50001, "Missing Access")
        cmd = await request.json()
        if problem := command_problem(cmd):
            return api_error(400, INVALID_FORM_BODY, "Invalid Form Body", {"_": problem})
        old = {(c["name"], c.get("type", 1)): c["id"] for c in scope}
        stored = self._stored(cmd, old, request.match_info.get("guild"))
        scope[:] = [c for c in scope if c["id"] != stored["id"]] + [stored]
        self.twin.notify()
        return json_response(stored, status=201)

    def _stored(
        self, cmd: dict[str, Any], old: dict[Any, str], guild: str | None
    ) -> dict[str, Any]:
        key = (cmd["name"], cmd.get("type", 1))
        stored = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            **cmd,
            "id": old.get(key) or str(self.twin.ids.next()),
            "application_id": str(self.twin.application_id),
            "version": str(self.twin.ids.next()),
        }
        if guild is not None:
            stored["guild_id"] = guild
        return stored

    async def guild(self, request: web.Request) -> web.Response:
        guild = self.twin.guilds.get(int(request.match_info["guild"]))
        if guild is None:
            return api_error(404, 10004, "Unknown Guild")
        data = guild_create_json(guild, self.twin)
        for key in ("channels", "threads", "members", "presences", "voice_states"):
            data.pop(key, None)
        return json_response(data)

    async def guild_channels(self, request: web.Request) -> web.Response:
        guild = self.twin.guilds.get(int(request.match_info["guild"]))
        if guild is None:
            return api_error(404, 10004, "Unknown Guild")
        chans = [channel_json(c, self.twin) for c in guild.channels.values() if not c.is_thread]
        return json_response(chans)

    async def guild_member(self, request: web.Request) -> web.Response:
        guild = self.twin.guilds.get(int(request.match_info["guild"]))
        member = guild.members.get(int(request.match_info["user"])) if guild else None
        if member is None:
            return api_error(404, 10007, "Unknown Member")
        return json_response(member.to_json())

    async def channel(self, request: web.Request) -> web.Response:
        channel = self.twin.channels.get(int(request.match_info["channel"]))
        if channel is None:
            return api_error(404, 10003, "Unknown Channel")
        return json_response(channel_json(channel, self.twin))


def command_problem(cmd: dict[str, Any]) -> str | None:
    ctype = cmd.get("type", 1)
    name = cmd.get("name", "")
    if ctype == 1:
        if not COMMAND_NAME.match(name) or name != name.lower():
            return f"invalid command name {name!r}"
        if not 1 <= len(cmd.get("description", "")) <= 100:
            return f"description of {name!r} must be 1-100 characters"
    elif not 1 <= len(name) <= 32:
        return f"invalid context menu name {name!r}"
    return _options_problem(cmd.get("options") or [], name)


def _options_problem(options: list[dict[str, Any]], where: str) -> str | None:
    if len(options) > 25:
        return f"{where}: more than 25 options"
    names = [o.get("name", "") for o in options]
    if len(set(names)) != len(names):
        return f"{where}: duplicate option names"
    seen_optional = False
    for opt in options:
        if not COMMAND_NAME.match(opt.get("name", "")):
            return f"{where}: invalid option name {opt.get('name')!r}"
        if not 1 <= len(opt.get("description", "")) <= 100:
            return f"{where} {opt['name']}: description must be 1-100 characters"
        if opt.get("type") in (1, 2):
            if problem := _options_problem(opt.get("options") or [], f"{where} {opt['name']}"):
                return problem
        elif opt.get("required"):
            if seen_optional:
                return f"{where}: required option {opt['name']!r} after an optional one"
        else:
            seen_optional = True
        if len(opt.get("choices") or []) > 25:
            return f"{where} {opt['name']}: more than 25 choices"
    return None
