"""SQL for secrets the bot generates once and keeps (the web picker's signing key)."""

from __future__ import annotations

from collections.abc import Callable

from bot.storage.db import Database, Tx


class SecretQueries(Database):
    async def get_or_create_secret(self, name: str, make: Callable[[], str]) -> str:
        """The secret called `name`, made with `make()` and stored the first time. Two
        processes asking at once get the same value: the first insert wins."""

        async def body(tx: Tx) -> str:
            await tx.execute(
                "INSERT INTO bot_secrets (name, value, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, make(), self.now()),
            )
            row = await tx.fetchone("SELECT value FROM bot_secrets WHERE name = ?", (name,))
            if row is None:  # inserted or kept in this very transaction
                raise RuntimeError(f"the secret {name!r} could not be read back")
            return str(row["value"])

        return await self._write(body)
