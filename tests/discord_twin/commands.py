"""Turning a user's `/kling edit video:<file>` into the options payload Discord would send."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TwinUsageError
from .model import TwinChannel, TwinMember, TwinRole, TwinUserRecord
from .payloads import attachment_json, channel_json

if TYPE_CHECKING:
    from .model import TwinGuild
    from .twin import DiscordTwin

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)


@dataclass
class Upload:
    """A file a user attaches: `Upload("clip.mp4", data)` or just a `Path`."""

    filename: str
    data: bytes
    content_type: str | None = None

    @classmethod
    def of(cls, value: Any) -> Upload:
        if isinstance(value, Upload):
            return value
        if isinstance(value, Path):
            return cls(value.name, value.read_bytes())
        if isinstance(value, tuple) and len(value) == 2:
            return cls(str(value[0]), bytes(value[1]))
        raise TwinUsageError(f"cannot upload {value!r}: pass a Path, (filename, bytes) or Upload")


@dataclass
class Resolved:
    users: dict[str, Any] = field(default_factory=dict)
    members: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, Any] = field(default_factory=dict)
    attachments: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


def registered_commands(twin: DiscordTwin, guild: TwinGuild) -> list[dict[str, Any]]:
    return twin.guild_commands.get(guild.id, []) + twin.global_commands


def find_command(twin: DiscordTwin, guild: TwinGuild, name: str, ctype: int) -> dict[str, Any]:
    for cmd in registered_commands(twin, guild):
        if cmd["name"] == name and cmd.get("type", 1) == ctype:
            return cmd
    known = sorted(c["name"] for c in registered_commands(twin, guild))
    raise TwinUsageError(
        f"no command {name!r} (type {ctype}) registered; the bot registered {known}"
    )


def resolve_path(
    cmd: dict[str, Any], parts: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The chain of subcommand (group) schemas for `parts` and the leaf schema."""
    chain: list[dict[str, Any]] = []
    node = cmd
    for part in parts:
        subs = [
            o
            for o in node.get("options") or []
            if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)
        ]
        match = next((o for o in subs if o["name"] == part), None)
        if match is None:
            raise TwinUsageError(
                f"/{cmd['name']} has no subcommand {part!r}; it has {[o['name'] for o in subs]}"
            )
        chain.append(match)
        node = match
    if any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in node.get("options") or []):
        raise TwinUsageError(f"{' '.join([cmd['name'], *parts])} needs a subcommand")
    return chain, node


def nest_options(
    chain: list[dict[str, Any]], leaf_options: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    options = leaf_options
    for sub in reversed(chain):
        options = [{"name": sub["name"], "type": sub["type"], "options": options}]
    return options


def build_options(
    twin: DiscordTwin,
    guild: TwinGuild,
    channel: TwinChannel,
    schema: list[dict[str, Any]],
    values: dict[str, Any],
    resolved: Resolved,
    *,
    focused: str | None = None,
) -> list[dict[str, Any]]:
    by_name = {o["name"]: o for o in schema}
    given: dict[str, Any] = {}
    for key, value in values.items():
        name = key if key in by_name else key.replace("_", "-")
        if name not in by_name:
            raise TwinUsageError(f"no option {key!r}; the command takes {list(by_name)}")
        if value is not None:
            given[name] = value
    out = []
    for opt in schema:
        name = opt["name"]
        if name == focused:
            out.append(
                {
                    "name": name,
                    "type": opt["type"],
                    "value": str(given.get(name, "")),
                    "focused": True,
                }
            )
            continue
        if name not in given:
            if opt.get("required") and focused is None:
                raise TwinUsageError(f"option {name!r} is required")
            continue
        value = option_value(twin, guild, channel, opt, given[name], resolved)
        out.append({"name": name, "type": opt["type"], "value": value})
    return out


def option_value(
    twin: DiscordTwin,
    guild: TwinGuild,
    channel: TwinChannel,
    opt: dict[str, Any],
    value: Any,
    resolved: Resolved,
) -> Any:
    otype, name = opt["type"], opt["name"]
    if otype == STRING:
        text = str(value)
        if not opt.get("min_length", 0) <= len(text) <= opt.get("max_length", 6000):
            raise TwinUsageError(f"{name}: length {len(text)} is outside the allowed range")
        _check_choice(opt, text)
        return text
    if otype in (INTEGER, NUMBER):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TwinUsageError(f"{name} takes a number, got {value!r}")
        if otype == INTEGER and not isinstance(value, int):
            raise TwinUsageError(f"{name} takes an integer, got {value!r}")
        if "min_value" in opt and value < opt["min_value"]:
            raise TwinUsageError(f"{name}: {value} is below the minimum {opt['min_value']}")
        if "max_value" in opt and value > opt["max_value"]:
            raise TwinUsageError(f"{name}: {value} is above the maximum {opt['max_value']}")
        _check_choice(opt, value)
        return value
    if otype == BOOLEAN:
        return bool(value)
    if otype == ATTACHMENT:
        up = Upload.of(value)
        f = twin.store_file(
            channel.id, up.filename, up.data, content_type=up.content_type, ephemeral=True
        )
        resolved.attachments[str(f.id)] = attachment_json(f, twin)
        return str(f.id)
    if otype in (USER, MENTIONABLE) and not isinstance(value, TwinRole):
        member = _member_of(guild, value)
        resolved.users[str(member.user.id)] = member.user.to_json()
        resolved.members[str(member.user.id)] = {
            **member.to_json(with_user=False),
            "permissions": str(guild.base_permissions(member.user.id)),
        }
        return str(member.user.id)
    if otype in (ROLE, MENTIONABLE):
        if not isinstance(value, TwinRole):
            raise TwinUsageError(f"{name} takes a role, got {value!r}")
        resolved.roles[str(value.id)] = value.to_json()
        return str(value.id)
    if otype == CHANNEL:
        if not isinstance(value, TwinChannel):
            raise TwinUsageError(f"{name} takes a channel, got {value!r}")
        resolved.channels[str(value.id)] = {
            **channel_json(value, twin),
            "permissions": str(guild.base_permissions(twin.bot_user.id)),
        }
        return str(value.id)
    raise TwinUsageError(f"option type {otype} of {name!r} is not supported by the stand-in")


def _check_choice(opt: dict[str, Any], value: Any) -> None:
    choices = opt.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise TwinUsageError(
            f"{opt['name']}: {value!r} is not one of {[c['value'] for c in choices]}"
        )


def _member_of(guild: TwinGuild, value: Any) -> TwinMember:
    member = getattr(value, "member", value)
    if isinstance(member, TwinMember):
        return member
    if isinstance(member, TwinUserRecord) and member.id in guild.members:
        return guild.members[member.id]
    raise TwinUsageError(f"{value!r} is not a member of {guild.name}")
