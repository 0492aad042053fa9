"""What the stand-in remembers: guilds, channels, members, messages and their files."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024

# Discord channel types used here.
TEXT_CHANNEL = 0
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12

# Message flags.
EPHEMERAL_FLAG = 1 << 6
LOADING_FLAG = 1 << 7
COMPONENTS_V2_FLAG = 1 << 15


@dataclass
class StoredFile:
    """An uploaded file as the CDN serves it."""

    id: int
    channel_id: int
    filename: str
    data: bytes
    content_type: str | None
    description: str | None = None
    width: int | None = None
    height: int | None = None
    duration_secs: float | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def image(self) -> Any:
        """The file decoded with Pillow (PNG, JPEG...)."""
        from PIL import Image

        img = Image.open(io.BytesIO(self.data))
        img.load()
        return img

    def save(self, directory: Path) -> Path:
        """Write the file into `directory` under its own name, e.g. to probe an MP4 with PyAV."""
        path = Path(directory) / self.filename
        path.write_bytes(self.data)
        return path


@dataclass
class TwinUserRecord:
    id: int
    username: str
    global_name: str | None
    bot: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "bot": self.bot,
            "system": False,
        }


@dataclass
class TwinRole:
    id: int
    name: str
    permissions: int
    position: int = 0
    color: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class TwinMessage:
    """A message as the channel shows it, with the files it carries."""

    id: int
    channel_id: int
    guild_id: int | None
    author: TwinUserRecord
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    files: list[StoredFile] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    timestamp: str = ""
    edited_timestamp: str | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    visible_to: int | None = None
    deleted: bool = False
    edit_count: int = 0
    reactions: list[str] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL_FLAG)

    @property
    def loading(self) -> bool:
        """True while the message is a deferred "Bot is thinking..." placeholder."""
        return bool(self.flags & LOADING_FLAG)

    @property
    def attachments(self) -> list[StoredFile]:
        return self.files

    def attachment(self, filename: str | None = None) -> StoredFile:
        """The attachment named `filename` (or the only one) - also resolves `attachment://name`."""
        if filename is not None:
            name = filename.removeprefix("attachment://")
            for f in self.files:
                if f.filename == name:
                    return f
            raise KeyError(f"no attachment {name!r} on message {self.id}")
        if len(self.files) != 1:
            raise KeyError(f"message {self.id} has {len(self.files)} attachments, name one")
        return self.files[0]

    def iter_components(self) -> Iterator[dict[str, Any]]:
        """Every component, flattened: rows, containers, sections, accessories and labels."""
        yield from walk_components(self.components)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in self.iter_components() if c.get("type") == 2]

    @property
    def button_labels(self) -> list[str]:
        return [str(c.get("label", "")) for c in self.buttons]

    @property
    def text(self) -> str:
        """The content plus every text display and embed text, as a reader sees it."""
        parts = [self.content] if self.content else []
        for comp in self.iter_components():
            if comp.get("type") == 10:
                parts.append(str(comp.get("content", "")))
        for embed in self.embeds:
            for key in ("title", "description"):
                if embed.get(key):
                    parts.append(str(embed[key]))
            for fld in embed.get("fields", []):
                parts.append(f"{fld.get('name', '')}: {fld.get('value', '')}")
            footer = embed.get("footer") or {}
            if footer.get("text"):
                parts.append(str(footer["text"]))
        return "\n".join(parts)


def walk_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components:
        yield comp
        yield from walk_components(comp.get("components", []))
        for key in ("accessory", "component"):
            child = comp.get(key)
            if isinstance(child, dict):
                yield from walk_components([child])


@dataclass
class TwinChannel:
    """A text channel or thread of a guild."""

    id: int
    guild_id: int
    name: str
    type: int = TEXT_CHANNEL
    parent_id: int | None = None
    owner_id: int | None = None
    position: int = 0
    topic: str | None = None
    bot_denied: int = 0
    messages: dict[int, TwinMessage] = field(default_factory=dict)
    twin: Any = field(default=None, repr=False, compare=False)

    @property
    def is_thread(self) -> bool:
        return self.type in (PUBLIC_THREAD, PRIVATE_THREAD)

    def visible_messages(self) -> list[TwinMessage]:
        return [m for m in self.messages.values() if not m.deleted]

    @property
    def last_message(self) -> TwinMessage | None:
        shown = [m for m in self.visible_messages() if not m.loading]
        return max(shown, key=lambda m: m.id) if shown else None

    @property
    def threads(self) -> list[TwinChannel]:
        return [c for c in self.twin.channels.values() if c.parent_id == self.id]

    async def wait_for_message(
        self,
        predicate: Callable[[TwinMessage], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> TwinMessage:
        """The newest shown message (not deleted, not "thinking") that satisfies `predicate`.

        Edits count: a message that is edited into shape satisfies the wait.
        """

        def check() -> TwinMessage | None:
            for msg in sorted(self.visible_messages(), key=lambda m: m.id, reverse=True):
                if not msg.loading and (predicate is None or predicate(msg)):
                    return msg
            return None

        return await self.twin.wait_until(check, timeout)


@dataclass
class TwinMember:
    user: TwinUserRecord
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = "2024-01-01T00:00:00.000000+00:00"
    locale: str = "en-US"  # the member's client language, sent with each interaction

    def to_json(self, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_json()
        return data


@dataclass
class TwinGuild:
    id: int
    name: str
    owner_id: int
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    locale: str = "en-US"
    roles: dict[int, TwinRole] = field(default_factory=dict)
    channels: dict[int, TwinChannel] = field(default_factory=dict)
    members: dict[int, TwinMember] = field(default_factory=dict)

    @property
    def everyone(self) -> TwinRole:
        return self.roles[self.id]

    def channel(self, name: str) -> TwinChannel:
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        raise KeyError(f"no channel #{name} in guild {self.name}")

    def base_permissions(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        perms = self.everyone.permissions
        if member is not None:
            for rid in member.roles:
                role = self.roles.get(rid)
                if role is not None:
                    perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms


ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 51) - 1


@dataclass
class RecordedRequest:
    method: str
    path: str
    status: int
    query: dict[str, str]
    body: Any = None


@dataclass
class Violation:
    """A broken Discord rule; the test fails at teardown unless it takes the violation."""

    code: int
    message: str
    interaction_id: int | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"
