"""A light Kling for bench_scale.py: answers the selection calls of marking from masks computed
before the run, and passes every other call to the Kling emulator.

In production Kling's segmentation runs on Kling's machines; on this 2-core machine the
emulator's (40-45 ms of CPU per mark) competes with the bot for the same cores. This stand-in
replaces only Kling's side of add-, delete- and clear-selection: for each point the driver will
mark it holds a disc around the point at the video's size (radius a tenth of the short side),
encoded once at start as Kling encodes it (COCO RLE, plus a PNG of the mask), so a call costs
about a millisecond. Like Kling, each answer lists the masks of every object on the frame (one
object per point here), so the bot's own work is unchanged: it still decodes every mask, draws
its board and stores its points. init-selection (opening a session, not measured), the video
downloads and everything else go to the emulator unchanged.

Run: python -m bench.light_kling --upstream URL --size WxH --points FILE --ready FILE
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.load_children import announce_until_sigterm  # noqa: E402
from bot.masks import _format_counts, encode_rle  # noqa: E402

EDIT_PATH = "/v1/videos/multi-elements"
RADIUS_OF_SHORT_SIDE = 0.1
_NO_CHARGE = {
    "final_unit_deduction": "0",
    "final_balance_deduction": {"quota": "0", "list_price": "0"},
}
_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection"}


def _key(x: float, y: float) -> tuple[float, float]:
    return round(x, 4), round(y, 4)


def disc_rows(x: float, y: float, width: int, height: int) -> dict[int, tuple[int, int]]:
    """Column -> (first row, last row) of the disc around the point (x, y in 0..1)."""
    radius = RADIUS_OF_SHORT_SIDE * min(width, height)
    cx, cy = x * width, y * height
    columns = {}
    for col in range(max(0, int(cx - radius)), min(width, int(cx + radius) + 2)):
        half = radius * radius - (col + 0.5 - cx) ** 2
        if half < 0:
            continue
        span = half**0.5
        top, bottom = max(0, int(np.ceil(cy - span - 0.5))), min(height - 1, int(cy + span - 0.5))
        if top <= bottom:
            columns[col] = (top, bottom)
    return columns


def disc_mask(columns: dict[int, tuple[int, int]], width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    for col, (top, bottom) in columns.items():
        mask[top : bottom + 1, col] = True
    return mask


def disc_rle(columns: dict[int, tuple[int, int]], width: int, height: int) -> dict[str, Any]:
    """The disc's COCO RLE straight from its columns (column-major runs), without walking the
    million pixels of the frame: equal to ``encode_rle`` of ``disc_mask`` (checked at start)."""
    edges = [0]
    for col in sorted(columns):
        top, bottom = columns[col]
        edges += [col * height + top, col * height + bottom + 1]
    edges.append(width * height)
    runs = np.diff(np.asarray(edges, dtype=np.int64))
    return {"size": [height, width], "counts": _format_counts(runs)}


def png_base64(mask: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class LightKling:
    def __init__(self, upstream: str, width: int, height: int) -> None:
        self.upstream = upstream.rstrip("/")
        self.width, self.height = width, height
        self.masks: dict[tuple[float, float], tuple[dict[str, Any], dict[str, Any]]] = {}
        self.computed_late = 0  # points not in the file, encoded while answering
        # session -> frame -> [(x, y, object id)]; session -> next object id
        self.objects: dict[str, dict[int, list[tuple[float, float, int]]]] = {}
        self.next_id: dict[str, int] = {}
        self.http: aiohttp.ClientSession | None = None

    def prepare(self, x: float, y: float) -> tuple[dict[str, Any], dict[str, Any]]:
        key = _key(x, y)
        found = self.masks.get(key)
        if found is None:
            columns = disc_rows(x, y, self.width, self.height)
            png = {"size": [self.height, self.width], "base64": png_base64(self._mask(columns))}
            found = self.masks[key] = (disc_rle(columns, self.width, self.height), png)
        return found

    def _mask(self, columns: dict[int, tuple[int, int]]) -> np.ndarray:
        return disc_mask(columns, self.width, self.height)

    def check(self) -> None:
        """The fast RLE must be Kling's encoding of the same disc."""
        for x, y in ((0.5, 0.5), (0.02, 0.97), (0.99, 0.01)):
            columns = disc_rows(x, y, self.width, self.height)
            expected = encode_rle(disc_mask(columns, self.width, self.height))
            if disc_rle(columns, self.width, self.height) != expected:
                raise SystemExit(f"disc RLE differs from encode_rle at ({x}, {y})")

    # -- routes ----------------------------------------------------------------------------

    def _reply(self, session_id: str, frame: int) -> web.Response:
        items = []
        for x, y, object_id in self.objects.get(session_id, {}).get(frame, []):
            rle, png = self.masks.get(_key(x, y)) or self._late(x, y)
            items.append({"object_id": object_id, "rle_mask": rle, "png_mask": png})
        data = {
            "status": 0,
            "session_id": session_id,
            **_NO_CHARGE,
            "res": {"frame_index": frame, "rle_mask_list": items},
        }
        return web.json_response(
            {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data}
        )

    def _late(self, x: float, y: float) -> tuple[dict[str, Any], dict[str, Any]]:
        self.computed_late += 1
        return self.prepare(x, y)

    async def add(self, request: web.Request) -> web.Response:
        body = await request.json()
        session, frame = str(body["session_id"]), int(body["frame_index"])
        listed = self.objects.setdefault(session, {}).setdefault(frame, [])
        for point in body["points"]:
            object_id = self.next_id.get(session, 1)
            self.next_id[session] = object_id + 1
            listed.append((float(point["x"]), float(point["y"]), object_id))
        return self._reply(session, frame)

    async def delete(self, request: web.Request) -> web.Response:
        body = await request.json()
        session, frame = str(body["session_id"]), int(body["frame_index"])
        listed = self.objects.setdefault(session, {}).setdefault(frame, [])
        gone = {(float(p["x"]), float(p["y"])) for p in body["points"]}
        listed[:] = [o for o in listed if (o[0], o[1]) not in gone]
        return self._reply(session, frame)

    async def clear(self, request: web.Request) -> web.Response:
        body = await request.json()
        session = str(body["session_id"])
        self.objects.pop(session, None)
        return self._reply(session, 0)

    async def forward(self, request: web.Request) -> web.Response:
        assert self.http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self.http.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=await request.read(),
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=answer.status, body=body, headers=kept)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024**2)
        app.router.add_post(f"{EDIT_PATH}/add-selection", self.add)
        app.router.add_post(f"{EDIT_PATH}/delete-selection", self.delete)
        app.router.add_post(f"{EDIT_PATH}/clear-selection", self.clear)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        return app


async def serve(args: argparse.Namespace) -> None:
    width, height = (int(v) for v in args.size.split("x"))
    light = LightKling(args.upstream, width, height)
    light.check()
    began = time.process_time()
    points = json.loads(Path(args.points).read_text())  # noqa: ASYNC240 (before serving)
    for x, y in points:
        light.prepare(x, y)
    print(
        f"light Kling: {len(light.masks)} masks at {width}x{height} encoded in "
        f"{time.process_time() - began:.1f} s of CPU",
        flush=True,
    )
    light.http = aiohttp.ClientSession()
    runner = web.AppRunner(light.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await announce_until_sigterm(Path(args.ready), f"http://127.0.0.1:{port}")
    finally:
        print(f"light Kling: {light.computed_late} masks encoded while answering", flush=True)
        await light.http.close()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="the Kling emulator's base URL")
    parser.add_argument("--size", required=True, help="the clip's WIDTHxHEIGHT")
    parser.add_argument("--points", required=True, help="JSON list of [x, y] to prepare")
    parser.add_argument("--ready", required=True, help="file the base URL is written to")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
