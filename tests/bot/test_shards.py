from __future__ import annotations

import pytest

from bot.shards import ShardSet, shard_of

# Snowflakes whose shard of 2 is known: bits 22 and up decide.
ON_SHARD_0 = 4 << 22
ON_SHARD_1 = (5 << 22) | 12345


def test_shard_of_follows_discords_formula() -> None:
    assert shard_of(ON_SHARD_0, 2) == 0
    assert shard_of(ON_SHARD_1, 2) == 1
    assert shard_of(ON_SHARD_1, 1) == 0
    # A real-looking snowflake: (id >> 22) % 3.
    guild = 1_100_000_000_000_000_002
    assert shard_of(guild, 3) == (guild >> 22) % 3


def test_a_process_with_some_shards_owns_only_their_servers() -> None:
    first, second = ShardSet(2, (0,)), ShardSet(2, (1,))
    assert first.owns(ON_SHARD_0) and not first.owns(ON_SHARD_1)
    assert second.owns(ON_SHARD_1) and not second.owns(ON_SHARD_0)


def test_unset_or_all_shards_owns_every_server() -> None:
    for shards in (ShardSet(), ShardSet(2), ShardSet(2, (1, 0))):
        assert shards.owns(ON_SHARD_0) and shards.owns(ON_SHARD_1)
        assert shards.owns_everything


@pytest.mark.parametrize(
    ("count", "ids", "problem"),
    [
        (0, None, "at least 1"),
        (None, (0,), "needs shard_count"),
        (2, (), "at least one shard"),
        (2, (2,), "not shards of 2"),
        (2, (0, 0), "twice"),
    ],
)
def test_impossible_shard_plans_are_refused(
    count: int | None, ids: tuple[int, ...] | None, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        ShardSet(count, ids)
