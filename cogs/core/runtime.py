"""The bot's long-lived resources, opened in one order and closed in the reverse one.

`KlingBot.setup_hook` calls :func:`open_services`; `KlingBot.close` calls :func:`close_services`.
Kept apart from the bot class so that the class stays thin and the order is written down once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.callbacks import callback_url
from bot.config import Config
from bot.cooldowns import Cooldowns
from bot.editing import EditingService, FreshVideoUrl
from bot.editing.service import BoardLocale
from bot.jobs import Deliverer, JobObserver, JobRunner, KlingTaskBackend, RunnerConfig
from bot.kling import KlingClient, make_provider
from bot.kling.emulator import KlingEmulator
from bot.storage import Job, Store
from bot.storage.store import open_store
from bot.web import DiscordSide, Picker, TokenSigner, WebServer, new_signing_key
from bot.web.tokens import KEY_NAME

log = logging.getLogger(__name__)

# Steps in flight get this long to finish when the bot shuts down; whatever is cut off is
# resumed from the database on the next start.
STOP_GRACE_SECONDS = 5.0


@dataclass
class Services:
    http: aiohttp.ClientSession
    store: Store
    kling: KlingClient
    runner: JobRunner
    editing: EditingService
    emulator: KlingEmulator | None = None
    # The one web server: Kling's callbacks and, with [web] public_url, the picker.
    web: WebServer | None = None


def _secret(value: object) -> str | None:
    reveal = getattr(value, "reveal", None)
    return reveal() if callable(reveal) else None


async def start_local_emulator(config: Config) -> KlingEmulator:
    """The built-in emulator on loopback, its files kept next to the bot's media."""
    emulator = KlingEmulator(work_dir=config.storage.media_dir / "emulator")
    await emulator.start()
    log.info("Kling emulator (no key, no cost) listening on %s", emulator.base_url)
    return emulator


def job_callback_url(config: Config) -> Callable[[Job], str] | None:
    """Each job's callback URL under `[kling] callback_base_url`, or None when not configured."""
    base = config.kling.callback_base_url
    if base is None:
        return None
    return lambda job: callback_url(base, job.id)


async def start_web_server(
    config: Config,
    runner: JobRunner,
    editing: EditingService,
    web_side: DiscordSide | None,
    cooldowns: Cooldowns | None = None,
) -> WebServer | None:
    """Serve Kling's callback route and the picker on `[web] host:port` when a public URL (or
    the older callback base URL) is set; off otherwise.

    A callback only makes the runner poll that job now; polling stays on either way.
    """
    web = config.web
    if web.public_url is None and config.kling.callback_base_url is None:
        return None
    picker = None
    if web.public_url is not None:
        key = (
            web.signing_key.reveal()
            if web.signing_key
            else await editing.store.get_or_create_secret(KEY_NAME, new_signing_key)
        )
        picker = Picker(
            editing,
            TokenSigner(key, lifetime_s=web.link_minutes * 60.0),
            public_url=web.public_url,
            cooldowns=cooldowns or Cooldowns(),
            discord=web_side,
        )
    server = WebServer(
        host=web.host,
        port=web.port,
        wake=runner.announce,  # the process that holds the job polls it (any process)
        webhook_secret=_secret(config.kling.webhook_secret),
        picker=picker,
    )
    await server.start()
    if config.kling.webhook_secret is None:
        log.warning("Kling callbacks are not signed: set KLING_WEBHOOK_SECRET to verify them")
    return server


def runner_config(config: Config) -> RunnerConfig:
    return RunnerConfig(poll_timeout=config.kling.poll_timeout_minutes * 60.0)


async def open_services(
    config: Config,
    *,
    deliverer: Deliverer,
    observer: JobObserver,
    fresh_video_url: FreshVideoUrl | None,
    http: aiohttp.ClientSession | None = None,
    board_locale: BoardLocale | None = None,
    web_side: DiscordSide | None = None,
    cooldowns: Cooldowns | None = None,
) -> Services:
    """Open the HTTP session, the emulator (when asked for), the store, Kling and the runner.

    The runner is built but not started: the caller starts it once the gateway is ready so the
    first deliveries do not race the connection.
    """
    http = http or aiohttp.ClientSession()
    emulator: KlingEmulator | None = None
    store: Store | None = None
    web: WebServer | None = None
    try:
        kling_config = config.kling
        base_url = kling_config.base_url
        if kling_config.provider == "emulator" and base_url is None:
            emulator = await start_local_emulator(config)
            base_url = emulator.base_url
        provider = make_provider(
            kling_config.provider,
            base_url=base_url,
            api_key=_secret(kling_config.api_key),
            access_key=_secret(kling_config.access_key),
            secret_key=_secret(kling_config.secret_key),
        )
        kling = KlingClient(
            http,
            provider,
            connect_timeout=kling_config.connect_timeout_seconds,
            total_timeout=kling_config.request_timeout_seconds,
        )
        storage = config.storage
        storage.path.parent.mkdir(parents=True, exist_ok=True)
        storage.media_dir.mkdir(parents=True, exist_ok=True)
        store = await open_store(storage)
        runner = JobRunner(
            store,
            KlingTaskBackend(kling, callback_url=job_callback_url(config)),
            deliverer,
            # The runner keeps results under media_dir/"results" itself.
            media_dir=storage.media_dir,
            http=http,
            observer=observer,
            config=runner_config(config),
            shards=config.discord.shards,  # only the jobs of this process's servers
        )
        editing = _editing_service(
            store, kling, runner, http, storage.media_dir, fresh_video_url, board_locale
        )
        web = await start_web_server(config, runner, editing, web_side, cooldowns)
    except BaseException:
        if store is not None:
            await store.close()
        if emulator is not None:
            await emulator.close()
        await http.close()
        raise
    return Services(http, store, kling, runner, editing, emulator, web)


def _editing_service(
    store: Store,
    kling: KlingClient,
    runner: JobRunner,
    http: aiohttp.ClientSession,
    media_dir: Path,
    fresh_video_url: FreshVideoUrl | None,
    board_locale: BoardLocale | None = None,
) -> EditingService:
    return EditingService(
        store,
        kling,
        runner,
        http=http,
        media_dir=media_dir,
        fresh_video_url=fresh_video_url,
        board_locale=board_locale,
    )


async def close_services(services: Services, *, grace: float | None = None) -> None:
    """Stop callbacks, the runner (running steps get `grace` seconds), emulator, store, HTTP."""
    if services.web is not None:
        with contextlib.suppress(Exception):
            await services.web.close()
    with contextlib.suppress(Exception):
        await services.runner.stop(grace=STOP_GRACE_SECONDS if grace is None else grace)
    if services.emulator is not None:
        with contextlib.suppress(Exception):
            await services.emulator.close()
    with contextlib.suppress(Exception):
        await services.store.close()
    await services.http.close()
