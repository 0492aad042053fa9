"""A guild member who types slash commands, clicks buttons and fills in modals."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .commands import (
    Resolved,
    Upload,
    build_options,
    find_command,
    nest_options,
    resolve_path,
)
from .errors import InteractionFailedError, TwinUsageError
from .modals import modal_submit_components
from .model import TwinChannel, TwinMember, TwinMessage, walk_components
from .payloads import channel_json, message_json
from .records import ACK_DEADLINE_SECONDS, InteractionRecord

if TYPE_CHECKING:
    from .model import TwinGuild
    from .twin import DiscordTwin

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
ACK_GRACE_SECONDS = 0.5


class InteractionHandle:
    """What happened to one interaction: how the bot acknowledged it and what it sent."""

    def __init__(self, twin: DiscordTwin, record: InteractionRecord) -> None:
        self.twin = twin
        self.record = record

    @property
    def response_type(self) -> int | None:
        return self.record.ack_type

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete suggestions the bot returned."""
        return self.record.choices or []

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.record.modal

    @property
    def followups(self) -> list[TwinMessage]:
        return [m for i in self.record.followup_ids if (m := self.twin.find_message(i))]

    async def response(self, timeout: float = 10.0) -> TwinMessage:  # noqa: ASYNC109
        """The original response once it shows something (a defer resolves after its edit)."""

        def check() -> TwinMessage | None:
            msg = self.twin.find_message(self.record.original_message_id or 0)
            return msg if msg is not None and not msg.loading and not msg.deleted else None

        return await self.twin.wait_until(check, timeout)


class TwinActor:
    """A member of a guild, acting through the Discord client. Get one with `twin.member(...)`."""

    def __init__(self, twin: DiscordTwin, guild: TwinGuild, member: TwinMember) -> None:
        self.twin = twin
        self.guild = guild
        self.member = member

    @property
    def id(self) -> int:
        return self.member.user.id

    @property
    def name(self) -> str:
        return self.member.user.username

    def _channel(self, channel: TwinChannel | None) -> TwinChannel:
        if channel is not None:
            return channel
        first = next((c for c in self.guild.channels.values() if not c.is_thread), None)
        if first is None:
            raise TwinUsageError(f"guild {self.guild.name} has no channel")
        return first

    # -- actions ---------------------------------------------------------------------------

    async def send(
        self, channel: TwinChannel, content: str = "", *, files: list[Any] = ()
    ) -> TwinMessage:  # type: ignore[assignment]
        """Post a plain message (with optional files) as this member."""
        stored = []
        for value in files:
            up = Upload.of(value)
            stored.append(
                self.twin.store_file(channel.id, up.filename, up.data, content_type=up.content_type)
            )
        return self.twin.create_message(channel, self.member.user, content=content, files=stored)

    async def slash(
        self, command: str, *, channel: TwinChannel | None = None, wait: bool = True, **options: Any
    ) -> InteractionHandle:
        """Run `/command` (e.g. "kling edit") with options typed per the registered schema."""
        name, *path = command.removeprefix("/").split()
        ch = self._channel(channel)
        cmd = find_command(self.twin, self.guild, name, 1)
        chain, leaf = resolve_path(cmd, path)
        resolved = Resolved()
        leaf_opts = build_options(
            self.twin, self.guild, ch, leaf.get("options") or [], options, resolved
        )
        data = self._command_data(cmd, nest_options(chain, leaf_opts), resolved)
        return await self._interact(APPLICATION_COMMAND, data, ch, wait=wait)

    async def autocomplete(
        self,
        command: str,
        option: str,
        typed: str = "",
        *,
        channel: TwinChannel | None = None,
        **options: Any,
    ) -> list[dict[str, Any]]:
        """Type `typed` into `option` and return the suggestions the bot offers."""
        name, *path = command.removeprefix("/").split()
        ch = self._channel(channel)
        cmd = find_command(self.twin, self.guild, name, 1)
        chain, leaf = resolve_path(cmd, path)
        resolved = Resolved()
        leaf_opts = build_options(
            self.twin,
            self.guild,
            ch,
            leaf.get("options") or [],
            {**options, option: typed},
            resolved,
            focused=option,
        )
        data = self._command_data(cmd, nest_options(chain, leaf_opts), resolved)
        handle = await self._interact(AUTOCOMPLETE, data, ch, wait=True)
        return handle.choices

    async def context_menu(
        self, name: str, target: TwinMessage | Any, *, wait: bool = True
    ) -> InteractionHandle:
        """Right-click `target` (a message, or a member) and pick the app command `name`."""
        ch: TwinChannel
        resolved = Resolved()
        if isinstance(target, TwinMessage):
            cmd = find_command(self.twin, self.guild, name, 3)
            ch = self.twin.channels[target.channel_id]
            resolved.messages[str(target.id)] = message_json(target, self.twin)
            target_id = target.id
        else:
            cmd = find_command(self.twin, self.guild, name, 2)
            ch = self._channel(None)
            member = getattr(target, "member", target)
            resolved.users[str(member.user.id)] = member.user.to_json()
            resolved.members[str(member.user.id)] = member.to_json(with_user=False)
            target_id = member.user.id
        data = {**self._command_data(cmd, [], resolved), "target_id": str(target_id)}
        return await self._interact(APPLICATION_COMMAND, data, ch, wait=wait)

    async def click(
        self, message: TwinMessage, button: str, *, wait: bool = True
    ) -> InteractionHandle:
        """Press the button whose label (or custom_id) is `button`."""
        self._check_visible(message)
        buttons = [c for c in walk_components(message.components) if c.get("type") == 2]
        comp = next((b for b in buttons if b.get("label") == button), None) or next(
            (b for b in buttons if b.get("custom_id") == button), None
        )
        if comp is None:
            labels = [b.get("label") or b.get("custom_id") for b in buttons]
            raise TwinUsageError(f"no button {button!r} on message {message.id}; buttons: {labels}")
        if comp.get("disabled"):
            raise TwinUsageError(f"button {button!r} is disabled")
        if not comp.get("custom_id"):
            raise TwinUsageError(f"button {button!r} is a link, not an interaction")
        data = {"custom_id": comp["custom_id"], "component_type": 2, "id": comp.get("id")}
        return await self._interact(
            MESSAGE_COMPONENT,
            data,
            self.twin.channels[message.channel_id],
            message=message,
            wait=wait,
        )

    async def select(
        self, message: TwinMessage, menu: str, values: list[str], *, wait: bool = True
    ) -> InteractionHandle:
        """Pick `values` in the string select whose custom_id or placeholder is `menu`."""
        self._check_visible(message)
        selects = [c for c in walk_components(message.components) if c.get("type") == 3]
        comp = next(
            (s for s in selects if menu in (s.get("custom_id"), s.get("placeholder"))), None
        )
        if comp is None:
            raise TwinUsageError(f"no select menu {menu!r} on message {message.id}")
        allowed = {o["value"] for o in comp.get("options", [])}
        if not set(values) <= allowed:
            raise TwinUsageError(f"{values} are not all among the options {sorted(allowed)}")
        data = {
            "custom_id": comp["custom_id"],
            "component_type": 3,
            "values": values,
            "id": comp.get("id"),
        }
        return await self._interact(
            MESSAGE_COMPONENT,
            data,
            self.twin.channels[message.channel_id],
            message=message,
            wait=wait,
        )

    async def submit_modal(
        self,
        values: dict[str, Any] | None = None,
        *,
        opened_by: InteractionHandle | None = None,
        wait: bool = True,
        **fields: Any,
    ) -> InteractionHandle:
        """Fill in and submit the modal the bot last showed this member.

        Fields are addressed by their label or custom_id; text inputs take strings, selects
        take lists of values, file uploads take Paths / (filename, bytes) / Upload objects.
        """
        record = opened_by.record if opened_by else self._last_modal_record()
        modal = record.modal
        if modal is None:
            raise TwinUsageError("the bot did not answer that interaction with a modal")
        ch = self.twin.channels[record.channel_id]
        resolved = Resolved()
        components = modal_submit_components(
            self.twin, ch, modal, {**(values or {}), **fields}, resolved
        )
        data: dict[str, Any] = {"custom_id": modal["custom_id"], "components": components}
        if resolved.to_json():
            data["resolved"] = resolved.to_json()
        source = self.twin.find_message(record.source_message_id or 0)
        return await self._interact(MODAL_SUBMIT, data, ch, message=source, wait=wait)

    # -- plumbing --------------------------------------------------------------------------

    def _last_modal_record(self) -> InteractionRecord:
        mine = [
            r
            for r in self.twin.interactions.values()
            if r.user.id == self.id and r.modal is not None
        ]
        if not mine:
            raise TwinUsageError(f"{self.name} has no open modal")
        return max(mine, key=lambda r: r.id)

    def _check_visible(self, message: TwinMessage) -> None:
        if message.deleted:
            raise TwinUsageError(f"message {message.id} was deleted")
        if message.visible_to not in (None, self.id):
            raise TwinUsageError(f"{self.name} cannot see ephemeral message {message.id}")

    def _command_data(
        self, cmd: dict[str, Any], options: list[dict[str, Any]], resolved: Resolved
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": cmd.get("type", 1)}
        if options:
            data["options"] = options
        if resolved.to_json():
            data["resolved"] = resolved.to_json()
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data

    async def _interact(
        self,
        itype: int,
        data: dict[str, Any],
        channel: TwinChannel,
        *,
        message: TwinMessage | None = None,
        wait: bool,
    ) -> InteractionHandle:
        twin = self.twin
        if not twin.gateway.connected:
            raise TwinUsageError("no bot is connected to the gateway")
        iid = twin.ids.next()
        token = twin.new_interaction_token()
        perms = self.guild.base_permissions(self.id)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(twin.application_id),
            "type": itype,
            "data": data,
            "guild_id": str(self.guild.id),
            "guild": {"id": str(self.guild.id), "locale": self.guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": {**channel_json(channel, twin), "permissions": str(perms)},
            "member": {**self.member.to_json(), "permissions": str(perms)},
            "token": token,
            "version": 1,
            "app_permissions": str(twin.bot_permissions(channel)),
            "locale": self.member.locale,
            "guild_locale": self.guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(self.guild.id)},
            "context": 0,
            "attachment_size_limit": self.guild.upload_limit,
        }
        if message is not None:
            payload["message"] = message_json(message, twin)
        record = InteractionRecord(
            iid,
            token,
            itype,
            self.guild.id,
            channel.id,
            self.member.user,
            twin.clock.now(),
            payload,
            source_message_id=message.id if message else None,
        )
        twin.interactions[iid] = record
        twin.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=self.guild.id)
        handle = InteractionHandle(twin, record)
        if wait:
            await self._wait_for_ack(record)
        return handle

    async def _wait_for_ack(self, record: InteractionRecord) -> None:
        try:
            await asyncio.wait_for(record.acked.wait(), ACK_DEADLINE_SECONDS + ACK_GRACE_SECONDS)
        except TimeoutError:
            self.twin.violate(
                10062, f"interaction {record.id} was not acknowledged within 3 s", record.id
            )
            raise InteractionFailedError(
                f"This interaction failed: the bot did not acknowledge interaction {record.id} "
                "within 3 seconds"
            ) from None
