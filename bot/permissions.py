"""The Discord permissions the bot uses, and its invite URL (`kling-bot invite`).

Listed once here so that the invite URL, `kling-bot check` and the README agree. Each entry says
what needs it; a permission nothing uses does not belong here (members' own permissions, such as
Manage Server for `/kling admin`, are checked on the member, not the bot). Application commands
need no permission bit: the `applications.commands` scope covers them. The bot needs no
privileged gateway intent (it asks only for the `guilds` intent).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

AUTHORIZE_URL = "https://discord.com/oauth2/authorize"
SCOPES = ("bot", "applications.commands")


class Permission(enum.IntFlag):
    """Discord's permission bits (developer documentation, "Permissions"), by their API names."""

    ADMINISTRATOR = 1 << 3
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38


@dataclass(frozen=True)
class UsedPermission:
    bit: Permission
    label: str  # as Discord's settings pages name it
    used_for: str


BOT_PERMISSIONS: tuple[UsedPermission, ...] = (
    # Every channel message and every fetch of one of the bot's own messages needs it first.
    UsedPermission(
        Permission.VIEW_CHANNEL,
        "View Channels",
        "see the channels it posts boards, job cards and results in",
    ),
    # Boards (cogs/edit.py), previews (cogs/marking.py), job cards (cogs/job_cards.py) and
    # results (cogs/jobs/delivery.py) are ordinary channel messages, not interaction replies.
    UsedPermission(
        Permission.SEND_MESSAGES, "Send Messages", "post boards, previews, job cards and results"
    ),
    # A result too large to attach is posted as Kling's link; it unfurls into a player only
    # when the author may embed links.
    UsedPermission(
        Permission.EMBED_LINKS,
        "Embed Links",
        "show a result link that is too large to attach as a playable preview",
    ),
    # The board carries the video and the board image; previews and results are video files.
    UsedPermission(
        Permission.ATTACH_FILES,
        "Attach Files",
        "attach the video and board image, previews and results",
    ),
    # Delivery reads the channel's recent messages to find a result it already posted before a
    # restart; the board is re-fetched to renew its video URL; a failure replies to its job card.
    UsedPermission(
        Permission.READ_MESSAGE_HISTORY,
        "Read Message History",
        "find earlier posts after a restart, re-read boards, reply to job cards",
    ),
    # `/kling edit thread:True` opens a public thread for the board (cogs/edit.py).
    UsedPermission(
        Permission.CREATE_PUBLIC_THREADS,
        "Create Public Threads",
        "open a thread for a board with `/kling edit thread:`",
    ),
    # Everything above, inside such a thread (or any thread a session is started in).
    UsedPermission(
        Permission.SEND_MESSAGES_IN_THREADS,
        "Send Messages in Threads",
        "post boards, job cards and results inside threads",
    ),
)


def permission_integer(used: Iterable[UsedPermission] = BOT_PERMISSIONS) -> int:
    """The `permissions` number of the invite URL: the OR of the bits."""
    value = 0
    for permission in used:
        value |= permission.bit
    return value


def missing_permissions(granted: int) -> list[UsedPermission]:
    """What the bot uses but `granted` (a server-wide permission integer) lacks."""
    if granted & Permission.ADMINISTRATOR:
        return []
    return [p for p in BOT_PERMISSIONS if not granted & p.bit]


def invite_url(client_id: int) -> str:
    """The OAuth2 URL that adds the bot to a server with its commands and permissions."""
    query = urlencode(
        {"client_id": client_id, "scope": " ".join(SCOPES), "permissions": permission_integer()}
    )
    return f"{AUTHORIZE_URL}?{query}"
