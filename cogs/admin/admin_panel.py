"""The `/kling-admin settings` panel: every server setting (SPEC §8) on one ephemeral message.

Each control saves its change at once (acknowledging the click first) and the panel is drawn
again from what the database now holds, so what the admin sees is always what is stored.
Only the admin who opened the panel may use it, and their Manage Server permission is checked
again on every click.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.i18n import Msg
from bot.storage import GuildSettings, Store
from cogs.core.access import NOT_AN_ADMIN, can_manage_server
from cogs.core.replies import send_reply
from cogs.core.tree import report_error

log = logging.getLogger(__name__)

DAILY_CHOICES: tuple[int | None, ...] = (1, 3, 5, 10, 20, 50, None)
CONCURRENT_CHOICES: tuple[int | None, ...] = (1, 2, 3, 5, 10, None)
PANEL_TIMEOUT_SECONDS = 600.0
UNLIMITED = "unlimited"
# Channels where a text conversation (and so a session) can happen.
CHANNEL_TYPES = [
    discord.ChannelType.text,
    discord.ChannelType.news,
    discord.ChannelType.forum,
    discord.ChannelType.voice,
]
ACCENT = discord.Colour.blurple()


def limit_text(value: int | None) -> Msg:
    if value is None:
        return Msg("no limit")
    return Msg("{count} job", count=value) if value == 1 else Msg("{count} jobs", count=value)


def on_off(flag: bool) -> Msg:
    return Msg("**on**", msgctxt="setting") if flag else Msg("**off**", msgctxt="setting")


class SettingsPanel(discord.ui.LayoutView):
    """The panel for one admin; redrawn in place from the stored settings after every change."""

    def __init__(
        self,
        store: Store,
        settings: GuildSettings,
        *,
        owner_id: int,
        timeout: float | None = PANEL_TIMEOUT_SECONDS,
        locale: object = None,
    ) -> None:
        super().__init__(timeout=timeout)
        self.store = store
        self.settings = settings
        self.owner_id = owner_id
        # The panel is ephemeral: in the language of the admin who opened it.
        self.locale = locale
        self.last_interaction: discord.Interaction | None = None
        self.show(settings)

    def show(self, settings: GuildSettings) -> None:
        """Lay the panel out again for ``settings``."""
        self.settings = settings
        self.clear_items()
        self.add_item(self._container(settings))

    # -- layout ----------------------------------------------------------------------------

    def _t(self, message: Msg) -> str:
        return message.render(self.locale)

    def _container(self, s: GuildSettings) -> discord.ui.Container[Any]:
        t = self._t
        box: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ACCENT)
        box.add_item(
            discord.ui.TextDisplay(
                t(
                    Msg(
                        "## Kling settings for this server\nChanges are saved as soon as you make them."  # noqa: E501
                    )
                )
            )
        )
        box.add_item(discord.ui.Separator())

        who = (
            Msg("members with <@&{role}>", role=s.submit_role_id)
            if s.submit_role_id
            else Msg("everyone")
        )
        everyone = self._button(
            t(Msg("Allow everyone")),
            "role:everyone",
            self._on_everyone,
            disabled=s.submit_role_id is None,
        )
        box.add_item(
            discord.ui.Section(
                t(
                    Msg(
                        "**Who may submit paid jobs:** {who}\n-# Marking points and previews stay free for "  # noqa: E501
                        "everyone.",
                        who=who,
                    )
                ),
                accessory=everyone,
            )
        )
        role: discord.ui.RoleSelect[discord.ui.LayoutView] = discord.ui.RoleSelect(
            custom_id="kling-admin:role",
            placeholder=t(Msg("Choose the role that may submit paid jobs")),
            default_values=[discord.Object(s.submit_role_id)] if s.submit_role_id else [],
        )
        # discord.py's way to give one item its own callback is to assign it; mypy refuses any
        # assignment to a method (here and below in this panel).
        role.callback = self._with_select(role, self._on_role)  # type: ignore[method-assign]
        box.add_item(discord.ui.ActionRow(role))

        box.add_item(
            discord.ui.TextDisplay(
                t(
                    Msg(
                        "**Daily jobs per member:** {limit} (counts start over at 00:00 UTC)",
                        limit=limit_text(s.daily_jobs_per_member),
                    )
                )
            )
        )
        box.add_item(
            self._limit_select("daily", s.daily_jobs_per_member, DAILY_CHOICES, self._on_daily)
        )
        box.add_item(
            discord.ui.TextDisplay(
                t(
                    Msg(
                        "**Jobs running at once on this server:** {limit}",
                        limit=limit_text(s.concurrent_jobs_per_guild),
                    )
                )
            )
        )
        box.add_item(
            self._limit_select(
                "concurrent", s.concurrent_jobs_per_guild, CONCURRENT_CHOICES, self._on_concurrent
            )
        )

        box.add_item(
            discord.ui.TextDisplay(t(Msg("**Default mode:** {mode}", mode=s.default_mode)))
        )
        mode: discord.ui.Select[discord.ui.LayoutView]
        mode = discord.ui.Select(
            custom_id="kling-admin:mode",
            options=[
                discord.SelectOption(
                    label=t(Msg("std by default")),
                    value="std",
                    description=t(Msg("Standard mode: cheaper and faster")),
                    default=s.default_mode == "std",
                ),
                discord.SelectOption(
                    label=t(Msg("pro by default")),
                    value="pro",
                    description=t(Msg("Pro mode: higher quality, more credits")),
                    default=s.default_mode == "pro",
                ),
            ],
        )
        mode.callback = self._with_select(mode, self._on_mode)  # type: ignore[method-assign]
        box.add_item(discord.ui.ActionRow(mode))

        pro = (
            Msg("allowed", msgctxt="setting")
            if s.pro_allowed
            else Msg("not allowed", msgctxt="setting")
        )
        box.add_item(
            self._toggle(
                t(Msg("**Pro mode:** {state}", state=pro)),
                t(Msg("Turn pro off") if s.pro_allowed else Msg("Allow pro")),
                "toggle:pro",
                not s.pro_allowed,
                self._on_pro,
            )
        )
        box.add_item(
            self._toggle(
                t(Msg("**Confirm before submitting:** {state}", state=on_off(s.confirm_submits))),
                t(Msg("Stop asking") if s.confirm_submits else Msg("Ask to confirm")),
                "toggle:confirm",
                not s.confirm_submits,
                self._on_confirm,
            )
        )
        box.add_item(
            self._toggle(
                t(
                    Msg(
                        "**Sessions open in a new thread:** {state}",
                        state=on_off(s.sessions_in_threads),
                    )
                ),
                t(Msg("Keep in channel") if s.sessions_in_threads else Msg("Use threads")),
                "toggle:threads",
                not s.sessions_in_threads,
                self._on_threads,
            )
        )

        listed = ", ".join(f"<#{c}>" for c in sorted(s.disabled_channels))
        channels = listed or Msg("none", msgctxt="channels")
        box.add_item(
            discord.ui.TextDisplay(
                t(Msg("**Channels where the bot is disabled:** {channels}", channels=channels))
            )
        )
        picker: discord.ui.ChannelSelect[discord.ui.LayoutView] = discord.ui.ChannelSelect(
            custom_id="kling-admin:channels",
            placeholder=t(Msg("Choose channels to disable the bot in")),
            channel_types=CHANNEL_TYPES,
            min_values=0,
            max_values=25,
            default_values=[discord.Object(c) for c in sorted(s.disabled_channels)[:25]],
        )
        picker.callback = self._with_select(picker, self._on_channels)  # type: ignore[method-assign]
        box.add_item(discord.ui.ActionRow(picker))
        return box

    def _button(
        self,
        label: str,
        key: str,
        handler: Any,
        *,
        disabled: bool = False,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> discord.ui.Button[Any]:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=label, custom_id=f"kling-admin:{key}", style=style, disabled=disabled
        )
        button.callback = handler  # type: ignore[method-assign]
        return button

    def _toggle(
        self, text: str, label: str, key: str, turns_on: bool, handler: Any
    ) -> discord.ui.Section[Any]:
        style = discord.ButtonStyle.success if turns_on else discord.ButtonStyle.secondary
        return discord.ui.Section(text, accessory=self._button(label, key, handler, style=style))

    def _limit_select(
        self, key: str, current: int | None, choices: tuple[int | None, ...], handler: Any
    ) -> discord.ui.ActionRow[Any]:
        values: list[int | None] = list(choices)
        if current is not None and current not in choices:
            # A value set elsewhere (an older panel, the database) still shows as chosen.
            values = [*sorted({current, *(c for c in choices if c is not None)}), None]
        options = [
            discord.SelectOption(
                label=self._t(self._limit_label(key, v)),
                value=str(v) if v is not None else UNLIMITED,
                default=v == current,
            )
            for v in values
        ]
        select: discord.ui.Select[discord.ui.LayoutView] = discord.ui.Select(
            custom_id=f"kling-admin:{key}", options=options
        )
        select.callback = self._with_select(select, handler)  # type: ignore[method-assign]
        return discord.ui.ActionRow(select)

    @staticmethod
    def _limit_label(key: str, value: int | None) -> Msg:
        if value is None:
            return Msg("No limit")
        if key == "daily":
            return Msg("{limit} a day per member", limit=limit_text(value))
        return Msg("{limit} at once", limit=limit_text(value))

    @staticmethod
    def _with_select(select: Any, handler: Any) -> Any:
        async def callback(interaction: discord.Interaction) -> None:
            await handler(interaction, list(select.values))

        return callback

    # -- access ----------------------------------------------------------------------------

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.owner_id:
            await send_reply(
                interaction,
                Msg(
                    "This settings panel belongs to another admin; "
                    "open your own with `/kling-admin settings`."
                ),
            )
            return False
        if not can_manage_server(interaction):
            await send_reply(interaction, NOT_AN_ADMIN)
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        # Only the panel's selects and buttons raise here and each has a custom_id; the Item
        # base class declares none.
        custom_id = getattr(item, "custom_id", None)
        await report_error(interaction, error, where=f"settings panel {custom_id}")

    async def on_timeout(self) -> None:
        # The last click's token is good for 15 minutes; past that the panel just stops.
        if self.last_interaction is None or self.last_interaction.is_expired():
            return
        closed = discord.ui.LayoutView()
        closed.add_item(
            discord.ui.TextDisplay(
                self._t(
                    Msg(
                        "This settings panel has closed. Open it again with `/kling-admin settings`."  # noqa: E501
                    )
                )
            )
        )
        try:
            await self.last_interaction.edit_original_response(view=closed)
        except discord.HTTPException as error:
            log.info("could not close the settings panel: %s", error)

    # -- changes ---------------------------------------------------------------------------

    async def _save(self, interaction: discord.Interaction, **changes: Any) -> None:
        await interaction.response.defer()
        guild_id = self.settings.guild_id
        settings = await self.store.update_settings(guild_id, **changes)
        log.info("server %s: %s changed %s", guild_id, interaction.user.id, sorted(changes))
        self.show(settings)
        self.last_interaction = interaction
        # The same view, redrawn: a new view on this message would share its custom ids, and
        # stopping the old one would unregister them.
        await interaction.edit_original_response(view=self)

    async def _on_everyone(self, interaction: discord.Interaction) -> None:
        await self._save(interaction, submit_role_id=None)

    async def _on_role(self, interaction: discord.Interaction, values: list[Any]) -> None:
        role_id = int(values[0].id) if values else None
        # @everyone as the role means everyone: store "no role" so the panel says so.
        await self._save(
            interaction, submit_role_id=None if role_id == interaction.guild_id else role_id
        )

    async def _on_daily(self, interaction: discord.Interaction, values: list[str]) -> None:
        await self._save(interaction, daily_jobs_per_member=_limit_value(values))

    async def _on_concurrent(self, interaction: discord.Interaction, values: list[str]) -> None:
        await self._save(interaction, concurrent_jobs_per_guild=_limit_value(values))

    async def _on_mode(self, interaction: discord.Interaction, values: list[str]) -> None:
        mode = values[0] if values else self.settings.default_mode
        # Pro by default implies pro is allowed, or every default submit would be refused.
        extra = {"pro_allowed": True} if mode == "pro" else {}
        await self._save(interaction, default_mode=mode, **extra)

    async def _on_pro(self, interaction: discord.Interaction) -> None:
        allowed = not self.settings.pro_allowed
        extra = {} if allowed else {"default_mode": "std"}
        await self._save(interaction, pro_allowed=allowed, **extra)

    async def _on_confirm(self, interaction: discord.Interaction) -> None:
        await self._save(interaction, confirm_submits=not self.settings.confirm_submits)

    async def _on_threads(self, interaction: discord.Interaction) -> None:
        await self._save(interaction, sessions_in_threads=not self.settings.sessions_in_threads)

    async def _on_channels(self, interaction: discord.Interaction, values: list[Any]) -> None:
        await self._save(interaction, disabled_channels=frozenset(int(v.id) for v in values))


def _limit_value(values: list[str]) -> int | None:
    if not values or values[0] == UNLIMITED:
        return None
    return int(values[0])
