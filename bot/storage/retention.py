"""What the media retention sweep must keep, and forgetting result copies it removed."""

from __future__ import annotations

import json
from pathlib import Path

from bot.storage.db import Database
from bot.storage.models import IN_FLIGHT_STATES


class RetentionQueries(Database):
    async def files_in_use(self) -> tuple[set[Path], set[int]]:
        """Files that in-flight work still needs, and the ids of active sessions.

        Active sessions need their source video (boards are drawn from it); jobs not yet
        finished need their reference images and their downloaded result.
        """
        sessions = await self._fetchall(
            "SELECT id, local_path FROM sessions WHERE status = 'active'"
        )
        marks = ",".join("?" * len(IN_FLIGHT_STATES))
        jobs = await self._fetchall(
            f"SELECT request_json, result_path FROM jobs WHERE state IN ({marks})",  # noqa: S608
            [s.value for s in IN_FLIGHT_STATES],
        )
        files = {Path(r["local_path"]) for r in sessions if r["local_path"]}
        for row in jobs:
            request = json.loads(row["request_json"]) if row["request_json"] else {}
            files.update(Path(p) for p in request.get("image_paths") or ())
            if row["result_path"]:
                files.add(Path(row["result_path"]))
        return files, {int(r["id"]) for r in sessions}

    async def finished_results(self) -> list[tuple[str, str]]:
        """(job id, result_path) of finished jobs that still point at a local copy."""
        rows = await self._fetchall(
            "SELECT id, result_path FROM jobs WHERE result_path IS NOT NULL"
            " AND state IN ('delivered', 'failed', 'cancelled')"
        )
        return [(r["id"], r["result_path"]) for r in rows]

    async def forget_results(self, job_ids: list[str]) -> None:
        """The local copies of these jobs' results are gone."""
        for job_id in job_ids:
            await self._write_statement(
                "UPDATE jobs SET result_path = NULL WHERE id = ?", (job_id,)
            )
