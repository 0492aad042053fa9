"""A loopback Discord (REST v10, gateway, CDN) that an unmodified discord.py bot can log in to.

    twin = await DiscordTwin.start()
    guild = twin.add_guild("Test Server")
    alice = twin.member(guild, "alice")
    async with bot_running(bot, twin):          # sets discord.http.Route.BASE = twin.api_base
        handle = await alice.slash("kling edit", video=Path("clip.mp4"))
        board = await guild.channel("general").wait_for_message(lambda m: m.buttons)
        await alice.click(board, "Next frame")

See connect.py for what a bot must set, fixtures.py for pytest fixtures.
"""

from .actors import InteractionHandle, TwinActor
from .clock import TwinClock
from .commands import Upload
from .errors import InteractionFailedError, TwinUsageError
from .model import StoredFile, TwinChannel, TwinGuild, TwinMessage, TwinRole, Violation
from .running import bot_running, pointed_at
from .twin import DiscordTwin

__all__ = [
    "DiscordTwin",
    "InteractionFailedError",
    "InteractionHandle",
    "StoredFile",
    "TwinActor",
    "TwinChannel",
    "TwinClock",
    "TwinGuild",
    "TwinMessage",
    "TwinRole",
    "TwinUsageError",
    "Upload",
    "Violation",
    "bot_running",
    "pointed_at",
]
