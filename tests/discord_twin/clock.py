"""Controllable clock and Discord-style identifiers for the stand-in."""

from __future__ import annotations

import itertools
import secrets
import time

DISCORD_EPOCH_MS = 1_420_070_400_000


class TwinClock:
    """Wall-clock time plus an offset that tests can push forward.

    The 3-second acknowledgement rule, the 15-minute token lifetime and CDN link expiry are all
    judged against this clock, so a test can "wait" 15 minutes in no time with `advance(900)`.
    """

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds


class SnowflakeFactory:
    """Makes unique snowflakes whose embedded timestamp follows the twin's clock."""

    def __init__(self, clock: TwinClock) -> None:
        self._clock = clock
        self._counter = itertools.count()
        self._last = 0

    def next(self) -> int:
        ms = int(self._clock.now() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (1 << 17) | (next(self._counter) & 0xFFF)
        # Keep ids strictly increasing even when many are made in one millisecond.
        value = max(value, self._last + 1)
        self._last = value
        return value

    def on_shard(self, shard_id: int, shard_count: int) -> int:
        """The next snowflake whose guild would be on `shard_id` of `shard_count`.

        Discord's shard is ``(id >> 22) % count``: the bits above 22 are the millisecond
        timestamp, so this moves the timestamp forward (by less than `shard_count` ms).
        """
        if not 0 <= shard_id < shard_count:
            raise ValueError(f"shard {shard_id} is not one of {shard_count} shards")
        ms = self.next() >> 22
        ms += (shard_id - ms) % shard_count
        value = (ms << 22) | (1 << 17) | (next(self._counter) & 0xFFF)
        if value <= self._last:  # the low bits wrapped within that millisecond
            value += shard_count << 22
        self._last = value
        return value


def new_token(prefix: str = "aW50ZXJhY3Rpb24") -> str:
    return f"{prefix}:{secrets.token_urlsafe(48)}"
