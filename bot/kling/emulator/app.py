"""The emulator's aiohttp application: Kling's routes (official and CometAPI paths), auth,
the envelope for every answer, served files, and the /emulator control API."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import jwt
from aiohttp import web

from bot.kling.emulator import selection, tasks
from bot.kling.emulator.clock import ManualClock
from bot.kling.emulator.config import EmulatorConfig
from bot.kling.emulator.envelope import KlingApiError, error_response, invalid, ok
from bot.kling.emulator.faults import rule_from_json
from bot.kling.emulator.runtime import FILES_ROUTE, RUNTIME_KEY, EmulatorRuntime, runtime_of

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PATH_PREFIXES = ("", "/kling")
_EDIT = "/v1/videos/multi-elements"
_MULTI = "/v1/videos/multi-image2video"


def _check_auth(runtime: EmulatorRuntime, request: web.Request) -> None:
    config = runtime.config
    header = request.headers.get("Authorization", "")
    if not config.auth_required:
        if config.require_authorization and not header.strip():
            raise KlingApiError(1001)
        return
    if not header.strip():
        raise KlingApiError(1001)
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token:
        raise KlingApiError(1002)
    if config.api_key and hmac.compare_digest(token.encode(), config.api_key.encode()):
        return
    if not config.secret_key:
        raise KlingApiError(1002)
    try:
        claims = jwt.decode(
            token,
            config.secret_key,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError:
        raise KlingApiError(1002) from None
    if config.access_key and claims.get("iss") != config.access_key:
        raise KlingApiError(1002)
    now = runtime.clock.now()
    # Kling checks the token window itself; the emulator does so on its own clock.
    if isinstance(claims.get("nbf"), int | float) and now < claims["nbf"]:
        raise KlingApiError(1003)
    if isinstance(claims.get("exp"), int | float) and now >= claims["exp"]:
        raise KlingApiError(1004)


def _api(endpoint: str, handler: Handler) -> Handler:
    """Wrap a Kling handler: faults first, then auth, then Kling's envelope for every error."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            _check_auth(runtime_of(request), request)
            return await handler(request)
        except KlingApiError as error:
            return error_response(error.code, error.message)
        except Exception:
            log.exception("emulator %s failed", endpoint)
            return error_response(5000)

    async def wrapped(request: web.Request) -> web.StreamResponse:
        return await runtime_of(request).faults.apply(request, endpoint, guarded)

    return wrapped


async def _unknown_route(request: web.Request) -> web.Response:
    return error_response(1202, f"{request.method} {request.path} is not a Kling endpoint")


async def _serve_file(request: web.Request) -> web.StreamResponse:
    runtime = runtime_of(request)

    async def send(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = runtime.files_dir / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound(text="no such file")
        return web.FileResponse(path)

    return await runtime.faults.apply(request, "files", send)


async def _faults_get(request: web.Request) -> web.Response:
    return ok(runtime_of(request).faults.describe())


async def _faults_post(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    try:
        rule = rule_from_json(await request.json())
        runtime.faults.add(rule)
    except KlingApiError as error:
        return error_response(error.code, error.message)
    except ValueError as error:
        return error_response(1201, str(error))
    return ok({"rule_id": rule.rule_id})


async def _faults_delete(request: web.Request) -> web.Response:
    runtime_of(request).faults.clear()
    return ok({"cleared": True})


async def _callbacks_get(request: web.Request) -> web.Response:
    deliveries = runtime_of(request).deliveries
    return ok(
        [
            {
                "url": d.url,
                "task_id": d.task_id,
                "task_status": d.task_status,
                "http_status": d.http_status,
                "error": d.error,
            }
            for d in deliveries
        ]
    )


async def _clock_advance(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    clock = runtime.clock
    try:
        body = await request.json()
        seconds = float(body["seconds"])
        if not isinstance(clock, ManualClock):
            raise invalid("the emulator runs on the system clock; start it with a manual clock")
    except KlingApiError as error:
        return error_response(error.code, error.message)
    except (ValueError, KeyError, TypeError):
        return error_response(1201, 'body must be {"seconds": number}')
    clock.advance(seconds)
    return ok({"now": clock.now()})


async def _health(request: web.Request) -> web.Response:
    return ok({"emulator": True, "sessions": len(runtime_of(request).store.sessions)})


def _add_kling_routes(app: web.Application, prefix: str) -> None:
    router = app.router
    for action, handler in (
        ("init-selection", selection.init_selection),
        ("add-selection", selection.add_selection),
        ("delete-selection", selection.delete_selection),
        ("clear-selection", selection.clear_selection),
        ("preview-selection", selection.preview_selection),
    ):
        router.add_post(f"{prefix}{_EDIT}/{action}", _api(action, handler))
    for base, kind, create in (
        (_EDIT, "multi-elements", tasks.create_edit_task),
        (_MULTI, "multi-image2video", tasks.create_multi_image_task),
    ):
        # Older docs write create and list with a trailing slash; accept both spellings.
        for path in (f"{prefix}{base}", f"{prefix}{base}/"):
            router.add_post(path, _api(f"{kind}:create", create))
            router.add_get(path, _api(f"{kind}:list", tasks.list_tasks))
        router.add_get(f"{prefix}{base}/{{task_id}}", _api(f"{kind}:get", tasks.get_task))


def create_emulator_app(config: EmulatorConfig | None = None) -> web.Application:
    """The emulator as an aiohttp application (serve it with any aiohttp runner)."""
    runtime = EmulatorRuntime(config or EmulatorConfig())
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[RUNTIME_KEY] = runtime

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.stop()

    app.cleanup_ctx.append(lifecycle)
    for prefix in PATH_PREFIXES:
        _add_kling_routes(app, prefix)
    app.router.add_get(FILES_ROUTE + "{name}", _serve_file)
    app.router.add_get("/emulator/faults", _faults_get)
    app.router.add_post("/emulator/faults", _faults_post)
    app.router.add_delete("/emulator/faults", _faults_delete)
    app.router.add_get("/emulator/callbacks", _callbacks_get)
    app.router.add_post("/emulator/clock/advance", _clock_advance)
    app.router.add_get("/emulator/health", _health)
    for prefix in PATH_PREFIXES:
        app.router.add_route("*", prefix + "/v1/{tail:.*}", _unknown_route)
    return app
