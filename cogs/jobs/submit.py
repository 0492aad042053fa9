"""`/kling remove | swap | add`: paid edits of the channel's session, confirmed first (SPEC §5).

Policy (role, pro mode, daily and concurrent limits, disabled channels) is checked by
`cogs.jobs.confirm` right after acknowledging and again just before the job is sent.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from bot.storage import JobKind
from cogs.jobs.confirm import plan_and_confirm

Mode = Literal["std", "pro"]

PROMPT_HELP = "What to do, in plain words (e.g. the red car)"
NEGATIVE_HELP = "What the result must not show"
MODE_HELP = "std or pro (default: the server's setting)"


async def _plan(
    interaction: discord.Interaction,
    kind: JobKind,
    prompt: str,
    images: list[discord.Attachment],
    negative_prompt: str | None,
    mode: str | None,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    # The member's policy is checked first, then this channel's session is looked up.
    await plan_and_confirm(
        interaction,
        session_id=None,
        kind=kind,
        prompt=prompt,
        attachments=images,
        negative_prompt=negative_prompt,
        mode=mode,
    )


class SubmitCommands:
    """`/kling remove | swap | add` (mixed into cogs.jobs.cog.JobsCog)."""

    @app_commands.command(name="remove", description="Remove the marked object from the video")
    @app_commands.describe(prompt=PROMPT_HELP, negative_prompt=NEGATIVE_HELP, mode=MODE_HELP)
    async def remove(
        self,
        interaction: discord.Interaction,
        prompt: str,
        negative_prompt: str | None = None,
        mode: Mode | None = None,
    ) -> None:
        await _plan(interaction, JobKind.EDIT_REMOVAL, prompt, [], negative_prompt, mode)

    @app_commands.command(name="swap", description="Swap the marked object for the one in an image")
    @app_commands.describe(
        prompt=PROMPT_HELP,
        image="The reference image",
        negative_prompt=NEGATIVE_HELP,
        mode=MODE_HELP,
    )
    async def swap(
        self,
        interaction: discord.Interaction,
        prompt: str,
        image: discord.Attachment,
        negative_prompt: str | None = None,
        mode: Mode | None = None,
    ) -> None:
        await _plan(interaction, JobKind.EDIT_SWAP, prompt, [image], negative_prompt, mode)

    @app_commands.command(name="add", description="Add an element from one or two images")
    @app_commands.describe(
        prompt=PROMPT_HELP,
        image="A reference image",
        image2="A second reference image (optional)",
        negative_prompt=NEGATIVE_HELP,
        mode=MODE_HELP,
    )
    async def add(
        self,
        interaction: discord.Interaction,
        prompt: str,
        image: discord.Attachment,
        image2: discord.Attachment | None = None,
        negative_prompt: str | None = None,
        mode: Mode | None = None,
    ) -> None:
        images = [image] + ([image2] if image2 is not None else [])
        await _plan(interaction, JobKind.EDIT_ADDITION, prompt, images, negative_prompt, mode)
