"""What the `kling-bot check` tests share: an operator's config.toml and environment run through
the command against the loopback Discord stand-in and the Kling emulator, and the one line an
operator reads for a check."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.cli import main
from bot.kling.emulator import KlingEmulator
from tests.discord_twin import DiscordTwin

KLING_KEY = "emulator-account-key-1"


def free_port() -> int:
    """A loopback port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "KLING_")):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
async def emulator() -> AsyncIterator[KlingEmulator]:
    async with KlingEmulator(api_key=KLING_KEY, seconds_per_stage=0) as emu:
        yield emu


@dataclass
class Setup:
    """One operator's config.toml and environment; `run()` is `kling-bot check --config`."""

    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    discord: dict[str, str] = field(default_factory=dict)
    kling: dict[str, object] = field(default_factory=dict)
    storage: dict[str, str] = field(
        default_factory=lambda: {"path": "data/bot.sqlite3", "media_dir": "data/media"}
    )

    def write(self) -> Path:
        lines: list[str] = []
        for section, values in (
            ("discord", self.discord),
            ("kling", self.kling),
            ("storage", self.storage),
        ):
            lines.append(f"[{section}]")
            for key, value in values.items():
                lines.append(f"{key} = {value}" if isinstance(value, int) else f'{key} = "{value}"')
        path = self.tmp_path / "config.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    async def run(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
        config = self.write()
        # main() runs its own event loop, so it runs in a thread while the stand-ins serve here.
        status = await asyncio.to_thread(main, ["check", "--config", str(config)])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return status, out.splitlines()


@pytest.fixture
def setup(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    discord_twin: DiscordTwin,
    emulator: KlingEmulator,
) -> Setup:
    """Everything right: the stand-in's token, the emulator's key, a reachable callback URL."""
    monkeypatch.setenv("DISCORD_TOKEN", discord_twin.token)
    monkeypatch.setenv("KLING_API_KEY", KLING_KEY)
    port = free_port()
    return Setup(
        tmp_path,
        monkeypatch,
        discord={"api_base": discord_twin.api_base},
        kling={
            "provider": "kling",
            "base_url": emulator.base_url,
            "callback_base_url": f"http://127.0.0.1:{port}",
            "callback_port": port,
        },
    )


def line(lines: list[str], name: str) -> str:
    found = [text for text in lines if text[5:].startswith(name + ":")]
    assert len(found) == 1, (name, lines)
    return found[0]
