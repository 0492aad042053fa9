"""Short-lived ephemeral choices while starting a session: **Fix and continue**, Replace / Keep.

They belong to one member and one moment (the downloaded file lives in memory), so they are plain
views with a timeout rather than restart-proof dynamic items; after a restart the member simply
runs `/kling edit` again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import ui

from bot.i18n import Msg
from cogs.core.tree import report_error

CHOICE_TIMEOUT_S = 10 * 60

# The choices are ephemeral: worded in the language of the member they belong to.
FIX_LABEL = Msg("Fix and continue", msgctxt="button")
REPLACE_LABEL = Msg("Replace", msgctxt="button")
KEEP_LABEL = Msg("Keep", msgctxt="button")
FIXING = Msg("Fixing the video and opening the session…")
REPLACING = Msg("Replacing the session…")
KEPT = Msg("Kept the current session; nothing changed.")
NOT_YOURS = Msg("This choice belongs to the member who started it.")

Continuation = Callable[[discord.Interaction], Awaitable[None]]

WHERE = "session start choice"


class OwnedChoiceView(ui.View):
    """Buttons only the member `owner_id` may press; each press runs at most once."""

    def __init__(self, owner_id: int, locale: object = None) -> None:
        super().__init__(timeout=CHOICE_TIMEOUT_S)
        self.owner_id = owner_id
        self.locale = locale

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                NOT_YOURS.render(interaction.locale), ephemeral=True
            )
            return False
        return True

    async def run(
        self, interaction: discord.Interaction, working: Msg, then: Continuation | None
    ) -> None:
        self.stop()
        await interaction.response.edit_message(
            content=working.render(interaction.locale), view=None
        )
        if then is None:
            return
        try:
            await then(interaction)
        except Exception as exc:
            await report_error(interaction, exc, where=WHERE)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error, where=WHERE)


class FixVideoView(OwnedChoiceView):
    def __init__(
        self, owner_id: int, fix_and_continue: Continuation, locale: object = None
    ) -> None:
        super().__init__(owner_id, locale)
        self._continue = fix_and_continue
        self.fix.label = FIX_LABEL.render(locale)

    @ui.button(label=FIX_LABEL, style=discord.ButtonStyle.primary)
    async def fix(self, interaction: discord.Interaction, _button: ui.Button[Any]) -> None:
        await self.run(interaction, FIXING, self._continue)


class ReplaceSessionView(OwnedChoiceView):
    def __init__(self, owner_id: int, replace: Continuation, locale: object = None) -> None:
        super().__init__(owner_id, locale)
        self._replace = replace
        self.replace.label = REPLACE_LABEL.render(locale)
        self.keep.label = KEEP_LABEL.render(locale)

    @ui.button(label=REPLACE_LABEL, style=discord.ButtonStyle.danger)
    async def replace(self, interaction: discord.Interaction, _button: ui.Button[Any]) -> None:
        await self.run(interaction, REPLACING, self._replace)

    @ui.button(label=KEEP_LABEL, style=discord.ButtonStyle.secondary)
    async def keep(self, interaction: discord.Interaction, _button: ui.Button[Any]) -> None:
        await self.run(interaction, KEPT, None)
