"""SQL for the masks Kling returned per frame (its ``rle_mask_list``, stored as JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.storage.db import Database, Tx


async def replace_masks(
    tx: Tx,
    session_id: int,
    frame_index: int,
    masks: Sequence[Any] | None,
    now: float,
) -> None:
    """Store Kling's latest rle_mask_list for one frame; an empty list removes the row."""
    if masks is None:
        return
    if not masks:
        await tx.execute(
            "DELETE FROM frame_masks WHERE session_id = ? AND frame_index = ?",
            (session_id, frame_index),
        )
        return
    await tx.execute(
        "INSERT INTO frame_masks (session_id, frame_index, masks_json, updated_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (session_id, frame_index)"
        " DO UPDATE SET masks_json = excluded.masks_json, updated_at = excluded.updated_at",
        (session_id, frame_index, json.dumps(list(masks), separators=(",", ":")), now),
    )


class MaskQueries(Database):
    async def set_frame_masks(
        self, session_id: int, frame_index: int, masks: Sequence[Any]
    ) -> None:
        """Replace one frame's masks with Kling's latest answer (empty list: none left)."""
        now = self.now()

        async def body(tx: Tx) -> None:
            await replace_masks(tx, session_id, frame_index, masks, now)

        await self._write(body)

    async def get_frame_masks(self, session_id: int, frame_index: int) -> list[Any]:
        row = await self._fetchone(
            "SELECT masks_json FROM frame_masks WHERE session_id = ? AND frame_index = ?",
            (session_id, frame_index),
        )
        return json.loads(row["masks_json"]) if row else []

    async def list_frame_masks(self, session_id: int) -> dict[int, list[Any]]:
        rows = await self._fetchall(
            "SELECT frame_index, masks_json FROM frame_masks WHERE session_id = ?"
            " ORDER BY frame_index",
            (session_id,),
        )
        return {int(r["frame_index"]): json.loads(r["masks_json"]) for r in rows}
