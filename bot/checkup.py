"""`kling-bot check`: everything a first start needs, tried for real, one line per check.

Each check says OK, or what is wrong and how to fix it. Nothing here logs in to the gateway or
spends Kling credits: Discord is asked three read-only questions over REST, Kling lists one page
of tasks. No line ever contains a secret; a refused token is described, not shown.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp

from bot.callbacks import HEALTH_PATH, CallbackServer
from bot.check_results import CheckResult, fail, ok, skip
from bot.checkup_database import check_database
from bot.config import Config
from bot.discord_rest import DiscordHttpError, DiscordRest, DiscordUnreachableError, api_base
from bot.kling import KlingClient, make_provider
from bot.kling.errors import (
    AccessDeniedError,
    AuthError,
    BillingError,
    KlingError,
    NetworkError,
)
from bot.kling.retry import RetryPolicy
from bot.permissions import missing_permissions
from bot.startup import database_problem, folder_problem

TOKEN = "Discord token"  # noqa: S105 (a check's name, not a secret)
APPLICATION = "Discord application"
SERVERS = "Discord servers"
KLING = "Kling"
CALLBACKS = "callback URL"
STORAGE = "storage folder"
MEDIA = "media folder"

CALLBACK_TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=10)
_SHOWN_SERVERS = 10


async def run_checks(config: Config, *, source: str) -> list[CheckResult]:
    """Every check, in the order an operator fixes things. `source` names where config came from."""
    problems = config.problems_for_run()
    results = [fail("configuration", p) for p in problems] or [
        ok("configuration", f"{source}; Kling provider {config.kling.provider}")
    ]
    async with aiohttp.ClientSession() as http:
        results += await _guarded([TOKEN, APPLICATION, SERVERS], check_discord(http, config))
        results += await _guarded([KLING], _one(check_kling(http, config)))
        results += await _guarded([CALLBACKS], _one(check_callbacks(http, config)))
    on_postgres = config.storage.url is not None
    if config.storage.url is not None:
        results.append(await check_database(config.storage.url.reveal()))
    # On PostgreSQL the folder still holds the heartbeat that `kling-bot health` reads, and
    # `kling-bot run` refuses to start without it.
    results.append(
        check_folder(
            STORAGE,
            config.storage.path.parent,
            "[storage] path",
            database=None if on_postgres else config.storage.path,
        )
    )
    results.append(check_folder(MEDIA, config.storage.media_dir, "[storage] media_dir"))
    return results


async def _one(check: Awaitable[CheckResult]) -> list[CheckResult]:
    return [await check]


async def _guarded(names: list[str], checks: Awaitable[list[CheckResult]]) -> list[CheckResult]:
    """A surprise in one check (an answer no one foresaw) fails its lines, not the whole run."""
    try:
        return await checks
    except Exception as exc:
        # Only the type: the message of an unforeseen error might quote a secret.
        why = f"unexpected {type(exc).__name__} while checking: please report it"
        return [fail(name, why) for name in names]


# -- Discord -------------------------------------------------------------------------------


async def check_discord(http: aiohttp.ClientSession, config: Config) -> list[CheckResult]:
    """The token (`GET /users/@me`), the application, and the servers the bot is in."""
    token = config.discord.token
    if not token:
        why = "no token (see the configuration line)"
        return [skip(TOKEN, why), skip(APPLICATION, why), skip(SERVERS, why)]
    rest = DiscordRest(http, api_base(config), token.reveal())
    try:
        me = await rest.get("/users/@me")
    except DiscordUnreachableError as exc:
        why = "Discord is not reachable"
        return [
            fail(
                TOKEN,
                f"cannot reach Discord at {rest.base} ({exc}): check this machine's "
                "network, firewall or proxy, and [discord] api_base if set",
            ),
            skip(APPLICATION, why),
            skip(SERVERS, why),
        ]
    except DiscordHttpError as exc:
        why = "the token check failed"
        return [fail(TOKEN, _token_problem(exc)), skip(APPLICATION, why), skip(SERVERS, why)]
    name = me.get("username", "?") if isinstance(me, dict) else "?"
    user_id = me.get("id", "?") if isinstance(me, dict) else "?"
    results = [ok(TOKEN, f"accepted: the bot is {name} (id {user_id})")]
    results.append(await _check_application(rest))
    results.append(await _check_servers(rest))
    return results


def _token_problem(exc: DiscordHttpError) -> str:
    if exc.status == 401:
        return "Discord refused the token (401): copy a new one from the developer portal, Bot page"
    if exc.status == 429:
        return "Discord is rate-limiting this machine (429): wait a minute and check again"
    if exc.status >= 500:
        return f"Discord answered {exc}: it is having trouble, try again later"
    return f"Discord answered {exc}: check [discord] api_base (it must be Discord's REST API v10)"


async def _check_application(rest: DiscordRest) -> CheckResult:
    try:
        app = await rest.get("/oauth2/applications/@me")
    except (DiscordHttpError, DiscordUnreachableError) as exc:
        return fail(
            APPLICATION,
            f"cannot read the application ({exc}): check the token's "
            "application in the developer portal",
        )
    if not isinstance(app, dict) or not str(app.get("id", "")).isdigit():
        return fail(APPLICATION, "Discord sent no application id: check [discord] api_base")
    if app.get("bot_require_code_grant"):
        return fail(
            APPLICATION,
            f"{app.get('name', '?')} (id {app['id']}) requires an OAuth2 "
            "code grant, so the invite URL cannot add the bot: turn off "
            "Requires OAuth2 Code Grant on the developer portal's Bot page",
        )
    return ok(APPLICATION, f"{app.get('name', '?')} (id {app['id']})")


async def _check_servers(rest: DiscordRest) -> CheckResult:
    try:
        guilds = await rest.get("/users/@me/guilds", limit="200")
    except (DiscordHttpError, DiscordUnreachableError) as exc:
        return fail(SERVERS, f"cannot list the bot's servers ({exc}): try again")
    if not isinstance(guilds, list) or not guilds:
        return fail(
            SERVERS,
            "the bot is in no server: open the URL that `kling-bot invite` "
            "prints and add it to yours",
        )
    names = [str(g.get("name", "?")) for g in guilds if isinstance(g, dict)]
    count = f"{len(names)}{'+' if len(names) >= 200 else ''} server{'s' if len(names) != 1 else ''}"
    shown = ", ".join(names[:_SHOWN_SERVERS])
    if len(names) > _SHOWN_SERVERS:
        shown += f" and {len(names) - _SHOWN_SERVERS} more"
    lacking: list[str] = []
    for guild in guilds:
        granted = _as_int(guild.get("permissions")) if isinstance(guild, dict) else None
        missing = missing_permissions(granted) if granted is not None else []
        if missing:
            labels = ", ".join(p.label for p in missing)
            lacking.append(f"{guild.get('name', '?')} lacks {labels}")
    if lacking:
        return fail(
            SERVERS,
            f"in {count} ({shown}), but {'; '.join(lacking)}: give the bot's "
            "role these permissions, or invite it again with the URL that "
            "`kling-bot invite` prints",
        )
    return ok(SERVERS, f"in {count}: {shown}")


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- Kling ---------------------------------------------------------------------------------


async def check_kling(http: aiohttp.ClientSession, config: Config) -> CheckResult:
    """List one page of tasks: free, and it proves the URL, the key and the account."""
    k = config.kling
    if k.provider == "emulator" and k.base_url is None:
        return ok(
            KLING,
            "the built-in emulator (starts with the bot; no key, no cost): members "
            "get emulator edits, not real Kling edits",
        )
    try:
        provider = make_provider(
            k.provider,
            base_url=k.base_url,
            api_key=k.api_key.reveal() if k.api_key else None,
            access_key=k.access_key.reveal() if k.access_key else None,
            secret_key=k.secret_key.reveal() if k.secret_key else None,
        )
    except ValueError:
        return skip(KLING, "no usable credentials (see the configuration line)")
    where = f"provider {k.provider} at {provider.base_url}"
    client = KlingClient(
        http,
        provider,
        connect_timeout=k.connect_timeout_seconds,
        total_timeout=min(k.request_timeout_seconds, 30.0),
        retry=RetryPolicy(max_attempts=1),
    )
    try:
        page = await client.list_edit_tasks(page_num=1, page_size=1)
    except KlingError as exc:
        exc.redact(provider.secrets())
        return fail(KLING, _kling_problem(exc, where, k.provider))
    if k.provider == "emulator":
        return ok(
            KLING,
            f"the emulator at {provider.base_url} answers: members get emulator "
            "edits, not real Kling edits",
        )
    listed = "tasks listed" if page.tasks else "no tasks yet"
    return ok(KLING, f"the credentials work ({where}; {listed})")


def _kling_problem(exc: KlingError, where: str, provider: str) -> str:
    said = f"code {exc.code}" if exc.code is not None else f"HTTP {exc.http_status}"
    if isinstance(exc, NetworkError):
        return (
            f"cannot reach Kling ({where}): {exc.kling_message}: check this machine's "
            "network and [kling] base_url"
        )
    if isinstance(exc, AccessDeniedError):
        return (
            f"Kling accepted the key but refused access ({said}, {where}): "
            f"{exc.kling_message or 'no reason given'}; check the key's IP allow-list and "
            "the account's API access"
        )
    if isinstance(exc, AuthError):
        if exc.code in (1003, 1004):
            return (
                f"Kling refused the signed token ({said}, {where}): set this machine's clock "
                "right (the token is valid for 30 minutes from now)"
            )
        keys = (
            "KLING_API_KEY (CometAPI's key)"
            if provider == "cometapi"
            else "KLING_API_KEY, or KLING_ACCESS_KEY and KLING_SECRET_KEY"
        )
        return (
            f"Kling refused the key ({said}, {where}): check {keys} against the keys in "
            "your account, and that [kling] provider matches where they come from"
        )
    if isinstance(exc, BillingError):
        return (
            f"the key works but the account cannot pay ({said}, {where}): add a resource "
            "package or credits to the account"
        )
    return f"Kling answered {exc} ({where}): check [kling] provider and base_url"


# -- callbacks -----------------------------------------------------------------------------


async def check_callbacks(http: aiohttp.ClientSession, config: Config) -> CheckResult:
    """Fetch the public callback URL's health route from outside in.

    When the bot is not running the check serves the callback endpoint itself on
    `[kling] callback_port` for the moment it takes, so the whole way (DNS, TLS, the proxy, the
    port) is tried; when the port is taken, the running bot is expected to answer.
    """
    base = config.kling.callback_base_url
    if base is None:
        return ok(CALLBACKS, "not set: callbacks off, the bot polls")
    port = config.kling.callback_port
    url = base.rstrip("/") + HEALTH_PATH
    candidate = CallbackServer(lambda job_id: None, port=port)
    server: CallbackServer | None = candidate
    try:
        await candidate.start()
    except OSError:
        server = None  # the port is in use: presumably by the running bot
    fix = (
        f"the URL must lead to port {port} of this machine (a reverse proxy with TLS "
        f"forwarding {base.rstrip('/')}/kling/ to it); fix the proxy or [kling] "
        "callback_base_url"
    )
    try:
        async with http.get(url, timeout=CALLBACK_TIMEOUT) as response:
            status = response.status
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
    except (aiohttp.ClientError, TimeoutError) as exc:
        return fail(CALLBACKS, f"{url} is not reachable ({str(exc) or type(exc).__name__}): {fix}")
    finally:
        if server is not None:
            await server.close()
    if status == 200 and isinstance(body, dict) and body.get("ok") is True:
        return ok(CALLBACKS, f"{base} reaches the callback endpoint (port {port})")
    return fail(CALLBACKS, f"{url} answered HTTP {status}, not the bot's callback endpoint: {fix}")


# -- folders -------------------------------------------------------------------------------


def check_folder(
    name: str, folder: Path, setting: str, *, database: Path | None = None
) -> CheckResult:
    """The same checks as a start (create the folder if missing, write a file in it), so
    `kling-bot check` passes exactly when `kling-bot run` would accept the folder."""
    problem = folder_problem(folder, name, setting)
    if problem is None and database is not None:
        problem = database_problem(database)
    return fail(name, problem) if problem else ok(name, f"{folder} is writable")
