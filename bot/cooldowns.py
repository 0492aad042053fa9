"""Per-member cooldowns on the actions that call Kling, shared by Discord and the web picker.

A token bucket per (action, member, channel): each action allows a short burst, then one call
every ``every_s`` seconds. A channel holds at most one session, so "per channel" is "per
session" (a thread is its own channel). Frame navigation and anything else that does not call
Kling has no cooldown. The check is in memory only and a refused call uses up nothing.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import UserFacingError
from bot.i18n import Msg

IDLE_FORGET_S = 600.0  # longer than any rule needs to refill
# Idle buckets forgotten per call at most: a call adds at most one bucket, so this keeps up, and
# no call ever pays for a crowd (the oldest are at the front: nothing else is looked at).
FORGET_PER_CALL = 8


@dataclass(frozen=True)
class CooldownRule:
    name: str
    burst: int  # calls allowed back to back
    every_s: float  # then one call per this many seconds


# Mark / undo / clear: a sustained call every 2 s, with room for a quick undo after a mark.
SELECTION = CooldownRule("selection", burst=4, every_s=2.0)
PREVIEW = CooldownRule("preview", burst=1, every_s=10.0)
# Sending a paid job (the quotas are the real limit; this only stops double clicks).
SUBMIT = CooldownRule("submit", burst=1, every_s=5.0)


class CooldownError(UserFacingError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(
            Msg("Slow down: try again in {seconds} s.", seconds=max(1, math.ceil(retry_after)))
        )
        self.retry_after = retry_after


class Cooldowns:
    """Buckets of one bot; `clock` is monotonic seconds (injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> (tokens left, when they were counted), least recently counted first.
        self._buckets: OrderedDict[tuple[str, int, int], tuple[float, float]] = OrderedDict()

    def wait(self, rule: CooldownRule, user_id: int, channel_id: int) -> float | None:
        """The seconds before `take` would allow a call (None: it would now); uses nothing."""
        tokens, since = self._buckets.get(
            (rule.name, user_id, channel_id), (float(rule.burst), 0.0)
        )
        tokens = min(float(rule.burst), tokens + (self._clock() - since) / rule.every_s)
        return None if tokens >= 1.0 else (1.0 - tokens) * rule.every_s

    def refund(self, rule: CooldownRule, user_id: int, channel_id: int) -> None:
        """Give back one call of `rule` (at most up to a full burst): for a call whose work
        certainly never happened, so it does not hold up the member's next try."""
        key = (rule.name, user_id, channel_id)
        if key not in self._buckets:
            return  # forgotten, so already full
        now = self._clock()
        tokens, since = self._buckets[key]
        tokens = min(float(rule.burst), tokens + (now - since) / rule.every_s + 1.0)
        self._count(key, tokens, now)

    def take(self, rule: CooldownRule, user_id: int, channel_id: int) -> float | None:
        """Use one call of `rule`; returns None, or the seconds to wait (nothing used)."""
        now = self._clock()
        key = (rule.name, user_id, channel_id)
        tokens, since = self._buckets.get(key, (float(rule.burst), now))
        tokens = min(float(rule.burst), tokens + (now - since) / rule.every_s)
        if tokens < 1.0:
            self._count(key, tokens, now)
            return (1.0 - tokens) * rule.every_s
        self._count(key, tokens - 1.0, now)
        self._forget_idle(now)
        return None

    def __len__(self) -> int:
        return len(self._buckets)

    def _count(self, key: tuple[str, int, int], tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)  # the most recently counted go last

    def _forget_idle(self, now: float) -> None:
        # An idle bucket has refilled and says nothing a fresh one would not; keep the dict small.
        # Ordered by when each was counted, so the idle ones are a prefix: O(1) per bucket.
        for _ in range(FORGET_PER_CALL):
            oldest = next(iter(self._buckets), None)
            if oldest is None or now - self._buckets[oldest][1] <= IDLE_FORGET_S:
                return
            self._buckets.popitem(last=False)
