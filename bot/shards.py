"""Which Discord servers belong to this process (SPEC §11).

Discord puts a server on shard ``(guild_id >> 22) % shard_count``. Several processes that share one
database split the shards between them; each runs the jobs of the servers on its own shards.
"""

from __future__ import annotations

from dataclasses import dataclass


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord connects ``guild_id`` on when the bot runs ``shard_count`` shards."""
    if shard_count < 1:
        raise ValueError(f"shard_count must be at least 1, not {shard_count}")
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class ShardSet:
    """The shards this process connects: ``ids`` of ``count``, or every shard when ``ids`` is None.

    ``count`` None means "as many as Discord recommends, all in this process": such a process
    owns every server.
    """

    count: int | None = None
    ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 1:
            raise ValueError(f"shard_count must be at least 1, not {self.count}")
        if self.ids is not None:
            if self.count is None:
                raise ValueError("shard_ids needs shard_count")
            if not self.ids:
                raise ValueError("shard_ids must name at least one shard")
            bad = [i for i in self.ids if not 0 <= i < self.count]
            if bad:
                raise ValueError(
                    f"shard_ids {bad} are not shards of {self.count} (0 to {self.count - 1})"
                )
            if len(set(self.ids)) != len(self.ids):
                raise ValueError("shard_ids lists a shard twice")

    @property
    def owns_everything(self) -> bool:
        return self.count is None or self.ids is None or len(self.ids) == self.count

    def owns(self, guild_id: int) -> bool:
        """Whether this process runs the jobs of ``guild_id``."""
        if self.count is None or self.ids is None or len(self.ids) == self.count:
            return True
        return shard_of(guild_id, self.count) in self.ids
