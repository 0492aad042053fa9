"""Logging the bot in: the token, and the start failures an operator can fix, each said in one
line (a StartupError) rather than as a traceback."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import aiohttp
import discord
import yarl
from discord.http import Route

from bot.config import Config, StartupError

if TYPE_CHECKING:
    from cogs.core.app import KlingBot


def _discord_host(config: Config) -> str:
    url = yarl.URL(config.discord.api_base or Route.BASE)
    return f"{url.host}:{url.explicit_port}" if url.explicit_port else url.host or "Discord"


def _reason(error: BaseException) -> str:
    os_error = getattr(error, "os_error", None)
    if isinstance(os_error, OSError):
        if os_error.errno and os_error.errno > 0:  # negative: a resolver (gaierror) code
            return os.strerror(os_error.errno)  # "Connection refused", not aiohttp's wording
        return os_error.strerror or str(os_error)
    return str(error) or (
        "no answer in time" if isinstance(error, TimeoutError) else type(error).__name__
    )


async def log_in(bot: KlingBot, token: str) -> None:
    """`bot.login`, with the failures an operator can fix said in one line (StartupError)."""
    try:
        await bot.login(token)
    except discord.LoginFailure:
        raise StartupError(
            [
                "Discord refused the bot token (401 Unauthorized): copy the token again from the "
                "developer portal (Bot > Reset Token) into DISCORD_TOKEN or [discord] token"
            ]
        ) from None
    except (aiohttp.ClientError, TimeoutError) as error:
        if bot.user is not None:  # logged in: this came from setup_hook, not from reaching Discord
            raise
        raise StartupError(
            [
                f"cannot reach Discord at {_discord_host(bot.config)} ({_reason(error)}): check "
                "the network, DNS and proxy "
                "settings" + (", and [discord] api_base" if bot.config.discord.api_base else "")
            ]
        ) from None
    except discord.HTTPException as error:
        if bot.user is not None:
            raise
        raise StartupError(
            [
                f"Discord answered the login with HTTP {error.status} ({error.text or 'no reason'}): "  # noqa: E501
                "try again later"
            ]
        ) from None


# Gateway close codes that no retry fixes: the shard settings must change.
SHARD_REFUSALS = {
    4010: "Discord refused the shard ids (gateway close code 4010, invalid shard): check "
    "[discord] shard_count and shard_ids (ids run from 0 to shard_count - 1)",
    4011: "Discord requires more shards (gateway close code 4011, too many servers on one "
    "shard): raise [discord] shard_count, or unset it to use Discord's recommended count",
}


def discord_token(config: Config) -> str:
    """The bot token; the CLI checks it is set before calling here, this says so if not."""
    if config.discord.token is None:
        raise StartupError(["no Discord token: set DISCORD_TOKEN or [discord] token"])
    return config.discord.token.reveal()
