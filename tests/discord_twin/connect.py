"""How a discord.py 2.7 bot connects to any Discord-compatible server (e.g. this stand-in).

discord.py takes the REST base from the class attribute `discord.http.Route.BASE`
(default "https://discord.com/api/v10"); REST calls, interaction callbacks and webhooks all use it.
The gateway is another matter:

* `commands.AutoShardedBot` / `AutoShardedClient` (with no explicit `shard_count`) call
  `GET {Route.BASE}/gateway/bot` and dial the `url` it returns (with its `shards` count).
  Given a `shard_count`, they never ask and dial `DiscordWebSocket.DEFAULT_GATEWAY`, as every
  client does to identify again after a lost session: set it as below in every case.
* A plain `commands.Bot` / `Client` never asks: it dials `DiscordWebSocket.DEFAULT_GATEWAY`
  (wss://gateway.discord.gg/). Such a bot must, before `connect()` (e.g. in `setup_hook`), read
  `/gateway/bot` and set `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` to that URL.
  `use_gateway_from_rest(client)` below does exactly that.

Compression: discord.py asks for `zstd-stream` when `zstandard` is importable, otherwise
`zlib-stream`. The stand-in speaks zlib-stream only, and its tests assert zstandard is absent.
"""

from __future__ import annotations

import discord
import yarl
from discord.gateway import DiscordWebSocket


def set_api_base(api_base: str) -> None:
    """Point discord.py's REST layer at `api_base` (e.g. "http://127.0.0.1:PORT/api/v10")."""
    discord.http.Route.BASE = api_base.rstrip("/")


async def use_gateway_from_rest(client: discord.Client) -> yarl.URL:
    """Make a non-sharded client dial the gateway that `GET /gateway/bot` names.

    Call after log-in (setup_hook is the natural place). Note DEFAULT_GATEWAY is process-wide.
    """
    _, url, _ = await client.http.get_bot_gateway()
    gateway = yarl.URL(url)
    DiscordWebSocket.DEFAULT_GATEWAY = gateway
    return gateway


def compression_in_use() -> str:
    """What discord.py will ask the gateway for: "zlib-stream" or "zstd-stream"."""
    return discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
