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
