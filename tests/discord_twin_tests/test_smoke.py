from tests.discord_twin import DiscordTwin, TwinGuild

from .minibot import MiniBot


async def test_ping(discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    handle = await alice.slash("ping")
    msg = await handle.response()
    assert msg.content == "pong"
