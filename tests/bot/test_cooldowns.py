"""Cooldown buckets: idle ones are forgotten a few at a time, oldest first, so a call never
walks the crowd of buckets (100,000 members) and memory still shrinks back."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from bot.cooldowns import FORGET_PER_CALL, IDLE_FORGET_S, PREVIEW, SELECTION, Cooldowns

CROWD = 100_000


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingBuckets(OrderedDict[Any, Any]):
    """The cooldowns' buckets, counting every entry a call reads, writes, visits or drops."""

    touched = 0

    def __getitem__(self, key: Any) -> Any:
        self.touched += 1
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self.touched += 1
        return super().get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.touched += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.touched += 1
        super().__delitem__(key)

    def __iter__(self) -> Iterator[Any]:
        for key in super().__iter__():
            self.touched += 1
            yield key

    def items(self) -> Any:
        for key in list(super().__iter__()):
            self.touched += 1
            yield key, super().__getitem__(key)

    def popitem(self, last: bool = True) -> Any:
        self.touched += 1
        return super().popitem(last=last)


def crowded(clock: Clock) -> tuple[Cooldowns, CountingBuckets]:
    """100,000 members who each marked once, a millisecond apart from one another (written
    straight in, as 100,000 calls would leave them: building the crowd is not under test)."""
    cooldowns = Cooldowns(clock=clock)
    counting = CountingBuckets()
    for user in range(CROWD):
        clock.now += 0.001
        OrderedDict.__setitem__(
            counting, (SELECTION.name, user, 1), (SELECTION.burst - 1.0, clock.now)
        )
    cooldowns._buckets = counting
    assert cooldowns.take(SELECTION, 0, 1) is None  # the real thing counts them the same way
    assert counting[(SELECTION.name, 0, 1)] == (SELECTION.burst - 1.0, clock.now)
    return cooldowns, counting


def test_a_call_touches_a_bounded_number_of_buckets_among_100000() -> None:
    clock = Clock()
    cooldowns, buckets = crowded(clock)
    assert len(cooldowns) == CROWD
    worst = 0
    for user in range(CROWD, CROWD + 50):  # nobody is idle yet: nothing to forget
        buckets.touched = 0
        assert cooldowns.take(SELECTION, user, 1) is None
        worst = max(worst, buckets.touched)
    clock.now += IDLE_FORGET_S + 1000  # now everybody is idle
    for user in range(50):
        buckets.touched = 0
        assert cooldowns.take(PREVIEW, user, 1) is None
        worst = max(worst, buckets.touched)
    assert worst <= FORGET_PER_CALL * 3 + 4, worst  # not 100,000


def test_idle_buckets_are_still_forgotten_and_busy_ones_kept() -> None:
    clock = Clock()
    cooldowns, _ = crowded(clock)
    clock.now += IDLE_FORGET_S + 1
    # Two members keep marking; their buckets stay (and keep counting), everyone else goes.
    calls = 0
    while len(cooldowns) > 2:
        clock.now += 2.0
        cooldowns.take(SELECTION, 1, 2)
        cooldowns.take(SELECTION, 2, 2)
        calls += 2
        assert calls <= 2 * CROWD // FORGET_PER_CALL + 10
    assert cooldowns.wait(SELECTION, 1, 2) is None
    # A forgotten member starts again with a full burst, as a bucket that had refilled would.
    assert [cooldowns.take(SELECTION, 7, 1) for _ in range(SELECTION.burst)] == [
        None
    ] * SELECTION.burst
    assert cooldowns.take(SELECTION, 7, 1) is not None


def test_a_busy_member_is_not_forgotten_while_idle_ones_before_them_are() -> None:
    clock = Clock()
    cooldowns = Cooldowns(clock=clock)
    assert cooldowns.take(PREVIEW, 1, 1) is None  # member 1 previews: 10 s to wait now
    for user in range(2, 20):
        cooldowns.take(SELECTION, user, 1)
    clock.now += IDLE_FORGET_S - 1
    assert cooldowns.take(PREVIEW, 1, 1) is None  # counted again: now the newest
    assert cooldowns.take(PREVIEW, 1, 1) is not None
    clock.now += 2
    for _ in range(5):
        cooldowns.take(SELECTION, 99, 1)
        clock.now += 0.01
    # The 18 idle members are gone; member 1's fresh bucket still holds its wait.
    assert len(cooldowns) == 2
    assert cooldowns.wait(PREVIEW, 1, 1) is not None
