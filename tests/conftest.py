from tests.discord_twin.fixtures import discord_twin, twin_guild
from tests.postgres import postgres_cluster, postgres_url

__all__ = ["discord_twin", "postgres_cluster", "postgres_url", "twin_guild"]
