"""pytest fixtures. Use from a conftest.py: `from tests.discord_twin.fixtures import *`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .model import TwinGuild
from .twin import DiscordTwin

__all__ = ["discord_twin", "twin_guild"]


@pytest.fixture
async def discord_twin() -> AsyncIterator[DiscordTwin]:
    """A running stand-in; teardown fails the test on broken Discord rules or unknown routes.

    A test that provokes a violation on purpose takes it with `twin.take_violations(code)`.
    """
    twin = await DiscordTwin.start()
    try:
        yield twin
    finally:
        await twin.stop()
    twin.assert_clean()


@pytest.fixture
def twin_guild(discord_twin: DiscordTwin) -> TwinGuild:
    """A guild with #general, created before the bot connects."""
    return discord_twin.add_guild("Test Server", channels=("general",))
