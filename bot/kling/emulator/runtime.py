"""Shared state of one running emulator, reachable from every handler via the app."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.kling.emulator.callbacks import CallbackDelivery
from bot.kling.emulator.config import EmulatorConfig
from bot.kling.emulator.envelope import KlingApiError
from bot.kling.emulator.faults import FaultInjector
from bot.kling.emulator.state import Session, Store

FILES_ROUTE = "/emulator/files/"


class EmulatorRuntime:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store()
        self.faults = FaultInjector()
        self.deliveries: list[CallbackDelivery] = []
        self.background: set[asyncio.Task[Any]] = set()
        self._own_work_dir = config.work_dir is None
        self.work_dir = (
            Path(tempfile.mkdtemp(prefix="kling-emulator-"))
            if config.work_dir is None
            else Path(config.work_dir)
        )
        self.files_dir = self.work_dir / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.http: aiohttp.ClientSession | None = None
        self._renderers: ProcessPoolExecutor | None = None
        # Filled in once the server is listening, so links work outside a request too.
        self.bound_base_url: str | None = None

    @property
    def clock(self) -> Any:
        return self.config.clock

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()

    async def render(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` off the event loop: in a render process when the config asks
        for them (``function`` and its arguments must then pickle), else on a thread."""
        if self.config.render_processes <= 0:
            return await asyncio.to_thread(function, *args)
        if self._renderers is None:
            # Not fork: this process has threads (the loop's executor) that a fork would copy
            # mid-lock.
            self._renderers = ProcessPoolExecutor(
                max_workers=self.config.render_processes,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=os.nice,
                initargs=(self.config.render_niceness,),
            )
        return await asyncio.get_running_loop().run_in_executor(self._renderers, function, *args)

    async def stop(self) -> None:
        for task in list(self.background):
            task.cancel()
        if self.background:
            await asyncio.gather(*self.background, return_exceptions=True)
        if self._renderers is not None:
            await asyncio.to_thread(self._renderers.shutdown, wait=True, cancel_futures=True)
            self._renderers = None
        if self.http is not None:
            await self.http.close()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def base_url(self, request: web.Request | None = None) -> str:
        if self.config.public_base_url:
            return self.config.public_base_url.rstrip("/")
        if request is not None:
            return f"{request.scheme}://{request.host}"
        return self.bound_base_url or ""

    def new_file(self, name: str) -> tuple[Path, str]:
        """A path in the served folder and its URL path."""
        return self.files_dir / name, FILES_ROUTE + name

    def local_file_for(self, url: str, request: web.Request) -> Path | None:
        """The file behind a URL this emulator handed out, so re-inits need no HTTP round trip."""
        parts = urlsplit(url)
        own_hosts = {request.host, urlsplit(self.base_url(request)).netloc}
        if parts.netloc not in own_hosts or not parts.path.startswith(FILES_ROUTE):
            return None
        name = parts.path[len(FILES_ROUTE) :]
        if "/" in name or name in ("", ".", ".."):
            return None
        path = self.files_dir / name
        return path if path.is_file() else None

    def session(self, session_id: Any) -> Session:
        """A live session, or 1203 when it is unknown or past its 24 h lifetime."""
        if not isinstance(session_id, str) or not session_id:
            raise KlingApiError(1201, "session_id is required")
        session = self.store.sessions.get(session_id)
        if session is None:
            raise KlingApiError(1203, f"session_id {session_id} does not exist")
        if self.clock.now() - session.created_at > self.config.session_ttl_seconds:
            raise KlingApiError(1203, f"session_id {session_id} has expired")
        return session

    def http_client(self) -> aiohttp.ClientSession:
        if self.http is None:
            raise RuntimeError("emulator runtime is not started")
        return self.http


RUNTIME_KEY = web.AppKey("kling_emulator_runtime", EmulatorRuntime)


def runtime_of(request: web.Request) -> EmulatorRuntime:
    return request.app[RUNTIME_KEY]
