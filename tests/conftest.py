from tests.discord_twin.fixtures import discord_twin, twin_guild

__all__ = ["discord_twin", "twin_guild"]
