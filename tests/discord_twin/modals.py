"""Building a MODAL_SUBMIT's `components` from the modal the bot showed and the user's input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .commands import Resolved, Upload
from .errors import TwinUsageError
from .payloads import attachment_json

if TYPE_CHECKING:
    from .model import TwinChannel
    from .twin import DiscordTwin

ACTION_ROW, STRING_SELECT, TEXT_INPUT, TEXT_DISPLAY, LABEL, FILE_UPLOAD = 1, 3, 4, 10, 18, 19
SELECT_TYPES = {3, 5, 6, 7, 8}


def modal_submit_components(
    twin: DiscordTwin,
    channel: TwinChannel,
    modal: dict[str, Any],
    values: dict[str, Any],
    resolved: Resolved,
) -> list[dict[str, Any]]:
    remaining = dict(values)
    out = []
    for comp in modal.get("components", []):
        ctype = comp.get("type")
        if ctype == ACTION_ROW:
            inner = [
                _answer(twin, channel, c, c.get("label"), remaining, resolved)
                for c in comp.get("components", [])
            ]
            out.append({"type": ACTION_ROW, "id": comp.get("id"), "components": inner})
        elif ctype == LABEL:
            inner_comp = comp["component"]
            answer = _answer(twin, channel, inner_comp, comp.get("label"), remaining, resolved)
            out.append({"type": LABEL, "id": comp.get("id"), "component": answer})
        elif ctype == TEXT_DISPLAY:
            out.append({"type": TEXT_DISPLAY, "id": comp.get("id")})
    if remaining:
        raise TwinUsageError(f"the modal has no fields {sorted(remaining)}")
    return out


def _take(comp: dict[str, Any], label: str | None, remaining: dict[str, Any]) -> tuple[bool, Any]:
    for key in (comp.get("custom_id"), label):
        if key is not None and key in remaining:
            return True, remaining.pop(key)
    return False, None


def _answer(
    twin: DiscordTwin,
    channel: TwinChannel,
    comp: dict[str, Any],
    label: str | None,
    remaining: dict[str, Any],
    resolved: Resolved,
) -> dict[str, Any]:
    ctype = comp.get("type")
    found, value = _take(comp, label, remaining)
    name = label or comp.get("custom_id")
    base = {"type": ctype, "id": comp.get("id"), "custom_id": comp.get("custom_id")}
    required = comp.get("required", True)
    if ctype == TEXT_INPUT:
        text = str(value) if found and value is not None else str(comp.get("value") or "")
        if required and not text:
            raise TwinUsageError(f"modal field {name!r} is required")
        if text and not comp.get("min_length", 0) <= len(text) <= comp.get("max_length", 4000):
            raise TwinUsageError(f"modal field {name!r}: length {len(text)} is out of range")
        return {**base, "value": text}
    if ctype in SELECT_TYPES:
        chosen = [str(v) for v in (value or [])] if found else []
        low = comp.get("min_values", 1 if required else 0)
        if not low <= len(chosen) <= comp.get("max_values", 1):
            raise TwinUsageError(f"modal select {name!r} needs {low}..{comp.get('max_values', 1)}")
        return {**base, "values": chosen}
    if ctype == FILE_UPLOAD:
        items = value if isinstance(value, list | tuple) and not _is_pair(value) else [value]
        uploads = [Upload.of(v) for v in items] if found and value is not None else []
        low = comp.get("min_values", 1 if required else 0)
        if not low <= len(uploads) <= comp.get("max_values", 1):
            raise TwinUsageError(
                f"file upload {name!r} takes {low}..{comp.get('max_values', 1)} "
                f"files, got {len(uploads)}"
            )
        ids = []
        for up in uploads:
            f = twin.store_file(
                channel.id, up.filename, up.data, content_type=up.content_type, ephemeral=True
            )
            resolved.attachments[str(f.id)] = attachment_json(f, twin)
            ids.append(str(f.id))
        return {**base, "values": ids}
    raise TwinUsageError(f"modal component type {ctype} is not supported by the stand-in")


def _is_pair(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes | bytearray)
