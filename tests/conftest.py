import logging
from collections.abc import Iterator

import pytest

from tests.database import database, sqlite_backend
from tests.discord_twin.fixtures import discord_twin, twin_guild
from tests.postgres import postgres_cluster, postgres_url

__all__ = [
    "database",
    "discord_twin",
    "postgres_cluster",
    "postgres_url",
    "sqlite_backend",
    "twin_guild",
]


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """`kling-bot` commands run in-process replace the root logger's handlers with one writing
    to the sys.stderr of that moment (a test's captured stream, closed after it): put the
    handlers and level back, so a later test's log lines never go to a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
