"""A running web picker over the real editing rig: SQLite file, Kling emulator, EditingService,
the bot's one web server on loopback, and a recording stand-in for the Discord side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.cooldowns import Cooldowns
from bot.web import Picker, TokenSigner, WebServer
from tests.bot.editing.conftest import (  # noqa: F401 - fixtures used by the rig
    ALICE,
    BOB,
    CHANNEL,
    GUILD,
    Rig,
    file_server,
    rig,
    scene_video,
)

SIGNING_KEY = "test-signing-key-of-the-picker-0123456789"
NAMES = {ALICE: "Alice", BOB: "Bob"}


class Clock:
    """Seconds that move only when a test says so (token expiry, cooldown refills)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingDiscord:
    """The Discord side: records each board refresh the picker asks for."""

    refreshed: list[int] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    parents: dict[int, int] = field(default_factory=dict)

    async def board_changed(self, session_id: int) -> None:
        self.refreshed.append(session_id)
        self.changed.set()

    def member_name(self, guild_id: int, user_id: int) -> str | None:
        return NAMES.get(user_id)

    def parent_channel_id(self, channel_id: int) -> int | None:
        return self.parents.get(channel_id)


@dataclass
class WebRig:
    rig: Rig
    server: WebServer
    picker: Picker
    signer: TokenSigner
    discord: RecordingDiscord
    token_clock: Clock
    cooldown_clock: Clock
    session_id: int = 0

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def token(
        self, member: int = ALICE, *, session_id: int | None = None, locale: str | None = None
    ) -> str:
        return self.signer.sign(
            member_id=member, session_id=session_id or self.session_id, locale=locale
        )

    def link(self, member: int = ALICE, *, locale: str | None = None) -> str:
        return self.picker.link(session_id=self.session_id, member_id=member, locale=locale)

    def api(self, path: str, *, session_id: int | None = None) -> str:
        return f"{self.base_url}/picker/{session_id or self.session_id}/{path}"

    def kling_clicks(self) -> dict[int, list[tuple[float, float]]]:
        """Every point the emulator holds, by frame: what Kling received."""
        found: dict[int, list[tuple[float, float]]] = {}
        for session in self.rig.emulator.store.sessions.values():
            for index, clicks in session.clicks_snapshot().items():
                found.setdefault(index, []).extend((c.x, c.y) for c in clicks)
        return found

    def selection_calls(self) -> int:
        return sum(n for name, n in self.rig.calls.items() if "selection" in name)


@pytest.fixture
async def web(rig: Rig) -> AsyncIterator[WebRig]:  # noqa: F811 - the imported fixture
    token_clock = Clock(rig.clock.now())
    cooldown_clock = Clock(1000.0)
    signer = TokenSigner(SIGNING_KEY, lifetime_s=30 * 60, clock=token_clock)
    discord = RecordingDiscord()
    picker = Picker(
        rig.service,
        signer,
        public_url="http://127.0.0.1",
        cooldowns=Cooldowns(clock=cooldown_clock),
        discord=discord,
    )
    server = WebServer(host="127.0.0.1", port=0, wake=lambda job_id: None, picker=picker)
    await server.start()
    picker.public_url = server.base_url
    web_rig = WebRig(rig, server, picker, signer, discord, token_clock, cooldown_clock)
    web_rig.session_id = await rig.open()
    try:
        yield web_rig
    finally:
        await server.close()
