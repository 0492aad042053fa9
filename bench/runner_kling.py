"""The Kling of bench_runner.py's in-flight cases: a minimal aiohttp stand-in, run in a child
process, that answers create and get at once and finishes each task ``task_seconds`` after it was
created (the emulator would render a real video per task, which would dominate the figures).

It serves the result file for real (a small MP4 header and padding) and counts every request,
in all and per job (by ``external_task_id``, at ``/stats``), so each runner's Kling requests per
job are those about its own jobs (bench/runner_cases.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

from aiohttp import web

BASE = "/v1/videos/multi-image2video"
RESULT_BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(16 * 1024)


def kling_stand_in(port_out: Any, task_seconds: float) -> None:
    """Create and get, answered at once; counts every request. Runs in a child process."""
    tasks: dict[str, dict[str, Any]] = {}
    by_external: dict[str, str] = {}
    calls: Counter[str] = Counter()
    per_job: defaultdict[str, Counter[str]] = defaultdict(Counter)  # by external_task_id

    def envelope(data: Any) -> web.Response:
        return web.json_response(
            {"code": 0, "message": "SUCCEED", "request_id": uuid.uuid4().hex, "data": data}
        )

    def payload(task: dict[str, Any], base: str) -> dict[str, Any]:
        done = time.time() - task["created"] >= task_seconds
        status = "succeed" if done else "processing"
        videos = (
            [{"id": "v" + task["id"], "url": f"{base}/files/{task['id']}.mp4", "duration": "5"}]
            if done
            else []
        )
        return {
            "task_id": task["id"],
            "task_status": status,
            "task_status_msg": "",
            "task_info": {"external_task_id": task["external"]},
            "task_result": {"videos": videos},
            "final_unit_deduction": "1" if done else "0",
            "created_at": int(task["created"] * 1000),
            "updated_at": int(time.time() * 1000),
        }

    async def create(request: web.Request) -> web.Response:
        calls["create"] += 1
        body = await request.json()
        task_id = str(800_000_000_000_000_000 + len(tasks))
        tasks[task_id] = {
            "id": task_id,
            "external": body["external_task_id"],
            "created": time.time(),
        }
        by_external[body["external_task_id"]] = task_id
        per_job[body["external_task_id"]]["create"] += 1
        return envelope(
            {
                "task_id": task_id,
                "task_status": "submitted",
                "task_info": {"external_task_id": body["external_task_id"]},
                "created_at": int(time.time() * 1000),
            }
        )

    async def get(request: web.Request) -> web.Response:
        key = request.match_info["task_id"]
        calls["get"] += 1
        task = tasks.get(key) or tasks.get(by_external.get(key, ""))
        if task is None:
            return web.json_response({"code": 1203, "message": "not found"}, status=404)
        per_job[task["external"]]["get"] += 1
        return envelope(payload(task, f"http://{request.host}"))

    async def file(request: web.Request) -> web.Response:
        calls["download"] += 1
        task = tasks.get(request.match_info["name"].removesuffix(".mp4"))
        if task is not None:
            per_job[task["external"]]["download"] += 1
        return web.Response(body=RESULT_BYTES, content_type="video/mp4")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"calls": dict(calls), "per_job": per_job})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post(BASE, create)
        app.router.add_get(BASE + "/{task_id}", get)
        app.router.add_get("/files/{name}", file)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(serve())
