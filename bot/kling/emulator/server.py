"""Running the emulator: in-process for tests (`KlingEmulator`) or as a server (`run_emulator`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.kling.emulator.app import create_emulator_app
from bot.kling.emulator.callbacks import CallbackDelivery
from bot.kling.emulator.clock import Clock, ManualClock
from bot.kling.emulator.config import EmulatorConfig
from bot.kling.emulator.faults import FaultInjector
from bot.kling.emulator.runtime import RUNTIME_KEY, EmulatorRuntime
from bot.kling.emulator.state import Store

log = logging.getLogger(__name__)


class KlingEmulator:
    """A Kling emulator listening on a real socket.

    >>> async with KlingEmulator(seconds_per_stage=0) as emu:
    ...     client_base_url = emu.base_url

    Keyword options override fields of `config` (see EmulatorConfig).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **options: Any,
    ) -> None:
        self.config = replace(config or EmulatorConfig(), **options)
        self.host = host
        self.port = port
        self.app = create_emulator_app(self.config)
        self._runner: web.AppRunner | None = None

    @property
    def runtime(self) -> EmulatorRuntime:
        return self.app[RUNTIME_KEY]

    @property
    def faults(self) -> FaultInjector:
        return self.runtime.faults

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def clock(self) -> Clock:
        return self.config.clock

    @property
    def deliveries(self) -> list[CallbackDelivery]:
        """Every callback POST attempted so far, in order."""
        return self.runtime.deliveries

    @property
    def base_url(self) -> str:
        """Base URL for the official path style; CometAPI paths live under base_url + "/kling"."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    def advance(self, seconds: float) -> None:
        """Move a ManualClock forward (tasks progress, sessions age)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs the emulator to run on a ManualClock")
        self.clock.advance(seconds)

    async def start(self) -> None:
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.runtime.bound_base_url = self.base_url

    async def add_port(self) -> str:
        """Serve this same emulator on one more loopback port as well; that port's base URL.

        Giving each of several bot processes a port of its own tells their calls apart: a
        request's ``transport.get_extra_info("sockname")`` names the port it came to."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = int(self._runner.addresses[-1][1])
        return f"http://{self.host}:{port}"

    async def close(self) -> None:
        self.faults.release()  # a held call would keep the shutdown waiting for it
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KlingEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def run_emulator(host: str = "127.0.0.1", port: int = 8765, **options: Any) -> None:
    """Serve the emulator until cancelled (`kling-bot emulator --port N`)."""
    emulator = KlingEmulator(host=host, port=port, **options)
    await emulator.start()
    log.info("Kling emulator listening on %s (CometAPI paths under /kling)", emulator.base_url)
    print(f"Kling emulator listening on {emulator.base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.close()
