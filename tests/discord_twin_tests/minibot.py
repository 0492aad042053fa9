"""A minimal discord.py bot used to check the stand-in; it only changes the REST base URL."""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image


def png_bytes(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


class FrameView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.frame = 1

    @discord.ui.button(
        label="Next frame", custom_id="frame:next", style=discord.ButtonStyle.primary
    )
    async def next_frame(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.frame += 1
        await interaction.response.edit_message(content=f"frame {self.frame}", view=self)


class AskModal(discord.ui.Modal, title="Describe the edit"):
    prompt = discord.ui.Label(text="Prompt", component=discord.ui.TextInput(custom_id="prompt"))
    images = discord.ui.Label(
        text="Reference images",
        component=discord.ui.FileUpload(custom_id="images", min_values=1, max_values=2),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.prompt.component, discord.ui.TextInput)
        assert isinstance(self.images.component, discord.ui.FileUpload)
        files = self.images.component.values
        sizes = []
        for att in files:
            sizes.append(len(await att.read()))
        await interaction.response.send_message(
            f"prompt={self.prompt.component.value} "
            f"files={[a.filename for a in files]} sizes={sizes}"
        )


class LayoutBoard(discord.ui.LayoutView):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        row = discord.ui.ActionRow()
        button = discord.ui.Button(label="Undo", custom_id="board:undo")
        button.callback = self.undo  # type: ignore[method-assign]
        row.add_item(button)
        self.add_item(discord.ui.Container(discord.ui.TextDisplay("board v1"), row))

    async def undo(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(view=UndoneBoard())


class UndoneBoard(discord.ui.LayoutView):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.add_item(discord.ui.Container(discord.ui.TextDisplay("board v2: undone")))


class MiniBot(commands.AutoShardedBot):
    """Slash commands that exercise each way of answering an interaction."""

    def __init__(self, guild_id: int, *, sharded: bool = True) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
        )
        self.guild_id = guild_id
        self.http_errors: list[discord.HTTPException] = []
        self.release = asyncio.Event()
        self._register()

    async def setup_hook(self) -> None:
        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    def _register(self) -> None:
        tree = self.tree
        demo = app_commands.Group(name="demo", description="Demo commands")
        tree.add_command(demo)

        @tree.command(name="ping", description="Replies pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", view=FrameView())

        @demo.command(name="render", description="Defers, then sends a PNG")
        @app_commands.describe(image="an image", scale="scale factor")
        async def render(
            interaction: discord.Interaction,
            image: discord.Attachment,
            scale: app_commands.Range[int, 1, 4] = 1,
        ) -> None:
            await interaction.response.defer(thinking=True)
            data = await image.read()
            with Image.open(io.BytesIO(data)) as img:
                size = (img.width * scale, img.height * scale)
            await interaction.followup.send(
                f"rendered {image.filename} at {size[0]}x{size[1]}",
                file=discord.File(io.BytesIO(png_bytes(*size, (200, 10, 10))), "render.png"),
            )

        @demo.command(name="card", description="Replies with a file in the first response")
        async def card(interaction: discord.Interaction) -> None:
            png = png_bytes(12, 8, (0, 255, 0))
            await interaction.response.send_message(
                "card", file=discord.File(io.BytesIO(png), "card.png")
            )

        @demo.command(name="ask", description="Opens a modal")
        async def ask(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(AskModal())

        @demo.command(name="board", description="Layout components board")
        async def board(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(view=LayoutBoard())

        @demo.command(name="thread", description="Replies and opens a thread on the reply")
        async def thread(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(f"session {name}")
            reply = await interaction.original_response()
            new_thread = await reply.create_thread(name=name)
            await new_thread.send("inside the thread")

        @demo.command(name="pick", description="Autocompleted option")
        async def pick(interaction: discord.Interaction, fruit: str) -> None:
            await interaction.response.send_message(f"picked {fruit}", ephemeral=True)

        @pick.autocomplete("fruit")
        async def pick_ac(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            fruits = ["apple", "apricot", "banana", "cherry"]
            return [app_commands.Choice(name=f, value=f) for f in fruits if f.startswith(current)]

        @tree.context_menu(name="Edit video with Kling")
        async def edit_video(interaction: discord.Interaction, message: discord.Message) -> None:
            names = [a.filename for a in message.attachments]
            await interaction.response.send_message(f"editing {names}")

        self._register_rule_breakers(tree)

    def _register_rule_breakers(self, tree: app_commands.CommandTree) -> None:
        @tree.command(name="slow", description="Acknowledges after 4 s")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(4)
            await self._record(interaction.response.send_message("too late"))

        @tree.command(name="twice", description="Acknowledges twice")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("first")
            # A second handler with its own response object, as when two listeners answer.
            await self._record(discord.InteractionResponse(interaction).send_message("second"))

        @tree.command(name="later", description="Defers, then follows up when released")
        async def later(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            await self.release.wait()
            await self._record(interaction.followup.send("done at last"))

        @tree.command(name="big", description="Uploads a file of the given size")
        async def big(interaction: discord.Interaction, mib: float) -> None:
            await interaction.response.defer()
            data = b"\0" * int(mib * 1024 * 1024)
            await self._record(
                interaction.followup.send(file=discord.File(io.BytesIO(data), "big.bin"))
            )

        @tree.command(name="post", description="Posts a channel message with the bot token")
        async def post(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("posting", ephemeral=True)
            assert isinstance(interaction.channel, discord.abc.Messageable)
            await self._record(interaction.channel.send("posted via bot token"))

    async def _record(self, coro: object) -> None:
        try:
            await coro  # type: ignore[misc]
        except discord.HTTPException as exc:
            self.http_errors.append(exc)
