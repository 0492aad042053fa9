"""`/kling animate`: 2 to 4 images become a video (Kling multi-image2video).

No editing session is involved: the images come with the command. After acknowledging, the
member's submit policy is checked (so nothing is downloaded for a refusal), the images are
downloaded with a size cap and normalised by the service (SPEC §6), and the plan goes through the
same confirmation card, job card, runner and delivery (with **Edit this result**) as an edit.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs.core.access import ensure_submit_allowed, guild_and_channel
from cogs.core.kling_group import KlingSubcommands, editing_service, store_of
from cogs.jobs.confirm import confirm_or_submit, read_images

Mode = Literal["std", "pro"]
Duration = Literal["5", "10"]
AspectRatio = Literal["16:9", "9:16", "1:1"]

IMAGE_HELP = "An image (jpg, png or webp; at least 300 px per side)"
OPTIONAL_IMAGE_HELP = "Another image (optional)"
PROMPT_HELP = "What should happen in the video"
NEGATIVE_HELP = "What the video must not show"
MODE_HELP = "std or pro (default: the server's setting)"
DURATION_HELP = "Length in seconds (default 5)"
ASPECT_HELP = "Shape of the video (default 16:9)"


class AnimateCog(KlingSubcommands):
    """`/kling animate`."""

    @app_commands.command(name="animate", description="Turn 2 to 4 images into a short video")
    @app_commands.describe(
        image1=IMAGE_HELP,
        image2=IMAGE_HELP,
        prompt=PROMPT_HELP,
        image3=OPTIONAL_IMAGE_HELP,
        image4=OPTIONAL_IMAGE_HELP,
        negative_prompt=NEGATIVE_HELP,
        mode=MODE_HELP,
        duration=DURATION_HELP,
        aspect_ratio=ASPECT_HELP,
    )
    async def animate(
        self,
        interaction: discord.Interaction,
        image1: discord.Attachment,
        image2: discord.Attachment,
        prompt: str,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        negative_prompt: str | None = None,
        mode: Mode | None = None,
        duration: Duration = "5",
        aspect_ratio: AspectRatio = "16:9",
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id, channel_id = guild_and_channel(interaction)
        await ensure_submit_allowed(interaction, store_of(interaction.client), mode=mode)
        attachments = [a for a in (image1, image2, image3, image4) if a is not None]
        images = await read_images(attachments)
        plan = await editing_service(interaction.client).plan_animate(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=interaction.user.id,
            prompt=prompt,
            images=images,
            negative_prompt=negative_prompt,
            mode=mode,
            duration=duration,
            aspect_ratio=aspect_ratio,
        )
        await confirm_or_submit(interaction, plan)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AnimateCog(bot))
