"""JSON shapes of Discord objects (API v10), built from the stand-in's records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import (
    StoredFile,
    TwinChannel,
    TwinGuild,
    TwinMessage,
)

if TYPE_CHECKING:
    from .twin import DiscordTwin


def attachment_json(f: StoredFile, twin: DiscordTwin) -> dict[str, Any]:
    url = twin.cdn.url(f)
    data: dict[str, Any] = {
        "id": str(f.id),
        "filename": f.filename,
        "size": f.size,
        "url": url,
        "proxy_url": url,
        "content_type": f.content_type,
        "flags": 0,
    }
    if f.description is not None:
        data["description"] = f.description
    if f.width is not None:
        data["width"] = f.width
        data["height"] = f.height
    if f.duration_secs is not None:
        data["duration_secs"] = f.duration_secs
    if f.ephemeral:
        data["ephemeral"] = True
    return data


def channel_json(ch: TwinChannel, twin: DiscordTwin) -> dict[str, Any]:
    overwrites = []
    if ch.bot_denied:
        overwrites.append(
            {"id": str(twin.bot_user.id), "type": 1, "allow": "0", "deny": str(ch.bot_denied)}
        )
    last_id = max(ch.messages, default=None)
    data: dict[str, Any] = {
        "id": str(ch.id),
        "type": ch.type,
        "guild_id": str(ch.guild_id),
        "name": ch.name,
        "position": ch.position,
        "permission_overwrites": overwrites,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": str(last_id) if last_id else None,
        "flags": 0,
    }
    if ch.is_thread:
        data.update(
            parent_id=str(ch.parent_id),
            owner_id=str(ch.owner_id),
            message_count=len(ch.messages),
            member_count=1,
            total_message_sent=len(ch.messages),
            thread_metadata={
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": twin.iso_now(),
                "locked": False,
                "create_timestamp": twin.iso_now(),
            },
        )
        data.pop("permission_overwrites")
        data.pop("position")
    else:
        data.update(parent_id=None, topic=ch.topic, default_auto_archive_duration=1440)
    return data


def guild_create_json(guild: TwinGuild, twin: DiscordTwin) -> dict[str, Any]:
    channels = [channel_json(c, twin) for c in guild.channels.values() if not c.is_thread]
    threads = [channel_json(c, twin) for c in guild.channels.values() if c.is_thread]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": guild.locale,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "features": [],
        "application_id": None,
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "large": False,
        "unavailable": False,
        "lazy": True,
        "member_count": len(guild.members),
        "roles": [r.to_json() for r in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "channels": channels,
        "threads": threads,
        "members": [m.to_json() for m in guild.members.values()],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
    }


def message_json(msg: TwinMessage, twin: DiscordTwin) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(msg.id),
        "channel_id": str(msg.channel_id),
        "author": msg.author.to_json(),
        "content": msg.content,
        "timestamp": msg.timestamp,
        "edited_timestamp": msg.edited_timestamp,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "mention_channels": [],
        "attachments": [attachment_json(f, twin) for f in msg.files],
        "embeds": msg.embeds,
        "components": msg.components,
        "reactions": [],
        "pinned": False,
        "type": msg.type,
        "flags": msg.flags,
    }
    if msg.guild_id is not None:
        data["guild_id"] = str(msg.guild_id)
    if msg.webhook_id is not None:
        data["webhook_id"] = str(msg.webhook_id)
    if msg.application_id is not None:
        data["application_id"] = str(msg.application_id)
    if msg.interaction_metadata is not None:
        data["interaction_metadata"] = msg.interaction_metadata
    if msg.message_reference is not None:
        data["message_reference"] = msg.message_reference
    return data
