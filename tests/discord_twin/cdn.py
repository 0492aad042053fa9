"""Loopback CDN: attachments behind signed, expiring URLs like cdn.discordapp.com's."""

from __future__ import annotations

import hashlib
import hmac
import io
import mimetypes
import secrets
from urllib.parse import quote

from aiohttp import web

from .clock import TwinClock
from .model import StoredFile

DEFAULT_LINK_TTL = 24 * 3600


class Cdn:
    """Stores file bytes and serves them at `/attachments/{channel}/{id}/{name}?ex=&is=&hm=`."""

    def __init__(self, clock: TwinClock) -> None:
        self._clock = clock
        self._secret = secrets.token_bytes(16)
        self.files: dict[int, StoredFile] = {}
        self.base_url = ""
        self.link_ttl: float = DEFAULT_LINK_TTL
        self.downloads: list[int] = []

    def add(self, f: StoredFile) -> StoredFile:
        self.files[f.id] = f
        return f

    def _signature(self, file_id: int, expires: int, issued: int) -> str:
        msg = f"{file_id}:{expires:x}:{issued:x}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def url(self, f: StoredFile) -> str:
        """A freshly signed URL; Discord re-signs links each time a message is fetched."""
        issued = int(self._clock.now())
        expires = issued + int(self.link_ttl)
        sig = self._signature(f.id, expires, issued)
        name = quote(f.filename)
        return (
            f"{self.base_url}/attachments/{f.channel_id}/{f.id}/{name}"
            f"?ex={expires:x}&is={issued:x}&hm={sig}&"
        )

    async def handle(self, request: web.Request) -> web.Response:
        try:
            file_id = int(request.match_info["file_id"])
            expires = int(request.query["ex"], 16)
            issued = int(request.query["is"], 16)
            sig = request.query["hm"]
        except (KeyError, ValueError):
            return web.Response(status=404, text="This content is no longer available.")
        f = self.files.get(file_id)
        good = hmac.compare_digest(sig, self._signature(file_id, expires, issued))
        if f is None or not good or self._clock.now() > expires:
            return web.Response(status=404, text="This content is no longer available.")
        self.downloads.append(file_id)
        return web.Response(
            body=f.data,
            headers={"Content-Type": f.content_type or "application/octet-stream"},
        )


def guess_content_type(filename: str) -> str | None:
    return mimetypes.guess_type(filename)[0]


def probe_media(
    data: bytes, content_type: str | None
) -> tuple[int | None, int | None, float | None]:
    """Width, height and duration as Discord reports them for images and videos."""
    if content_type and content_type.startswith("image/"):
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as img:
                return img.width, img.height, None
        except Exception:
            return None, None, None
    if content_type and content_type.startswith("video/"):
        try:
            import av

            with av.open(io.BytesIO(data)) as container:
                stream = container.streams.video[0]
                duration = None
                if container.duration is not None:
                    duration = container.duration / 1_000_000
                return stream.width, stream.height, duration
        except Exception:
            return None, None, None
    return None, None, None
