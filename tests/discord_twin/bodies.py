"""Reading message bodies (JSON or multipart `payload_json` + `files[n]`) and applying them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import (
    INVALID_FORM_BODY,
    REQUEST_ENTITY_TOO_LARGE,
    api_error,
)
from .model import COMPONENTS_V2_FLAG, EPHEMERAL_FLAG, LOADING_FLAG, StoredFile, TwinMessage

if TYPE_CHECKING:
    from .twin import DiscordTwin


@dataclass
class Upload:
    index: int
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class MessageBody:
    payload: dict[str, Any]
    uploads: list[Upload] = field(default_factory=list)


async def read_body(request: web.Request) -> MessageBody:
    if request.content_type.startswith("multipart/"):
        payload: dict[str, Any] = {}
        uploads: list[Upload] = []
        reader = await request.multipart()
        async for part in reader:
            name = getattr(part, "name", None) or ""
            if name == "payload_json":
                payload = json.loads(await part.text())  # type: ignore[union-attr]
                continue
            data = await part.read(decode=False)  # type: ignore[union-attr]
            index = len(uploads)
            if name.startswith("files[") and name.endswith("]"):
                index = int(name[6:-1])
            ctype = part.headers.get("Content-Type")
            if ctype == "application/octet-stream":
                ctype = None
            uploads.append(
                Upload(index, getattr(part, "filename", None) or name, bytes(data), ctype)
            )
        return MessageBody(payload, uploads)
    if request.can_read_body:
        raw = await request.read()
        return MessageBody(json.loads(raw) if raw else {})
    return MessageBody({})


def too_large(uploads: list[Upload], limit: int) -> web.Response | None:
    if any(len(u.data) > limit for u in uploads):
        return api_error(413, REQUEST_ENTITY_TOO_LARGE, "Request entity too large")
    return None


def validate_message(
    payload: dict[str, Any], uploads: list[Upload], *, creating: bool
) -> web.Response | None:
    """The checks Discord makes on a message body that a bot most plausibly trips over."""
    errors: dict[str, Any] = {}
    content = payload.get("content") or ""
    flags = int(payload.get("flags") or 0)
    components = payload.get("components") or []
    embeds = payload.get("embeds") or []
    if len(content) > 2000:
        errors["content"] = "Must be 2000 or fewer in length."
    if len(embeds) > 10:
        errors["embeds"] = "Must be 10 or fewer in length."
    if flags & COMPONENTS_V2_FLAG:
        if content or embeds:
            errors["content"] = "content and embeds cannot be used with IS_COMPONENTS_V2"
        if count_components(components) > 40:
            errors["components"] = "Must be 40 or fewer components in total."
    elif len(components) > 5:
        errors["components"] = "Must be 5 or fewer in length."
    if problem := embed_problem(embeds):
        errors["embeds"] = problem
    texts = sum(len(str(c.get("content") or "")) for c in _walk(components) if c.get("type") == 10)
    if texts > 4000:
        errors["components"] = "The text of all text displays is at most 4000 characters."
    for comp in _walk(components):
        if problem := select_problem(comp):
            errors["components"] = problem
        if comp.get("type") == 1 and len(comp.get("components", [])) > 5:
            errors["components"] = "An action row holds at most 5 components."
        if comp.get("type") == 2:
            if comp.get("style") != 5 and comp.get("style") != 6 and not comp.get("custom_id"):
                errors["components"] = "A non-link button needs a custom_id."
            if len(str(comp.get("label") or "")) > 80:
                errors["components"] = "Button labels are at most 80 characters."
        if len(str(comp.get("custom_id") or "")) > 100:
            errors["components"] = "custom_id is at most 100 characters."
    empty = not (
        content
        or embeds
        or components
        or uploads
        or payload.get("attachments")
        or payload.get("poll")
        or payload.get("sticker_ids")
    )
    if creating and empty:
        return api_error(400, 50006, "Cannot send an empty message")
    if errors:
        return api_error(400, INVALID_FORM_BODY, "Invalid Form Body", errors)
    return None


EMBED_LIMITS = {"title": 256, "description": 4096}


def embed_problem(embeds: list[dict[str, Any]]) -> str | None:
    """Discord's embed limits: each part, 25 fields, and 6000 characters over all embeds."""
    total = 0
    for embed in embeds:
        for key, limit in EMBED_LIMITS.items():
            if len(str(embed.get(key) or "")) > limit:
                return f"{key} must be {limit} or fewer in length."
        footer = str((embed.get("footer") or {}).get("text") or "")
        author = str((embed.get("author") or {}).get("name") or "")
        fields = embed.get("fields") or []
        if len(footer) > 2048 or len(author) > 256:
            return "footer text is at most 2048 and author name 256 characters."
        if len(fields) > 25:
            return "fields must be 25 or fewer in length."
        for entry in fields:
            if len(str(entry.get("name") or "")) > 256 or len(str(entry.get("value") or "")) > 1024:
                return "field names are at most 256 and values 1024 characters."
        total += (
            sum(len(str(embed.get(k) or "")) for k in EMBED_LIMITS)
            + len(footer)
            + len(author)
            + sum(len(str(f.get("name") or "")) + len(str(f.get("value") or "")) for f in fields)
        )
    return "Embed size exceeds maximum size of 6000" if total > 6000 else None


def select_problem(comp: dict[str, Any]) -> str | None:
    """Select menus: placeholder 150; each option's label, value and description 100."""
    if comp.get("type") not in (3, 5, 6, 7, 8):
        return None
    if len(str(comp.get("placeholder") or "")) > 150:
        return "A select placeholder is at most 150 characters."
    for option in comp.get("options") or []:
        if any(len(str(option.get(k) or "")) > 100 for k in ("label", "value", "description")):
            return "A select option's label, value and description are at most 100 characters."
    return None


def count_components(components: list[dict[str, Any]]) -> int:
    return sum(1 for _ in _walk(components))


def _walk(components: list[dict[str, Any]]) -> Any:
    for comp in components:
        yield comp
        yield from _walk(comp.get("components", []))
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield from _walk([comp[key]])


def new_files(
    twin: DiscordTwin, channel_id: int, body: MessageBody, ephemeral: bool = False
) -> list[StoredFile]:
    """Stored files for the uploads, named and described as the `attachments` entries say."""
    meta = {}
    for entry in body.payload.get("attachments") or []:
        try:
            meta[int(entry["id"])] = entry
        except (KeyError, TypeError, ValueError):
            continue
    files = []
    for up in sorted(body.uploads, key=lambda u: u.index):
        entry = meta.get(up.index, {})
        files.append(
            twin.store_file(
                channel_id,
                entry.get("filename") or up.filename,
                up.data,
                content_type=up.content_type,
                description=entry.get("description"),
                ephemeral=ephemeral,
            )
        )
    return files


def apply_edit(twin: DiscordTwin, msg: TwinMessage, body: MessageBody) -> None:
    payload = body.payload
    if "content" in payload:
        msg.content = payload["content"] or ""
    if "embeds" in payload:
        msg.embeds = payload["embeds"] or []
    if "components" in payload:
        msg.components = payload["components"] or []
    if payload.get("flags") is not None:
        keep = msg.flags & EPHEMERAL_FLAG
        msg.flags = keep | (int(payload["flags"]) & ~(EPHEMERAL_FLAG | LOADING_FLAG))
    # An edit always resolves a deferred "thinking" message.
    msg.flags &= ~LOADING_FLAG
    uploads = new_files(twin, msg.channel_id, body, ephemeral=msg.ephemeral)
    if "attachments" in payload and payload["attachments"] is not None:
        existing = {f.id: f for f in msg.files}
        kept = []
        for entry in payload["attachments"]:
            try:
                att_id = int(entry["id"])
            except (KeyError, TypeError, ValueError):
                continue
            if att_id in existing:
                kept.append(existing[att_id])
        msg.files = kept + uploads
    else:
        msg.files = msg.files + uploads
