"""A discord.py bot answers users through the stand-in in each of the ways Discord allows."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import pytest

from tests.discord_twin import DiscordTwin, TwinGuild, TwinUsageError, Upload

from .media import tiny_mp4
from .minibot import MiniBot, png_bytes


async def test_slash_reply_then_button_edits_the_same_message(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    alice = discord_twin.member(twin_guild, "alice")
    handle = await alice.slash("ping")
    assert handle.response_type == 4
    msg = await handle.response()
    assert msg.content == "pong" and msg.button_labels == ["Next frame"]
    assert msg.interaction_metadata is not None
    assert msg.interaction_metadata["user"]["id"] == str(alice.id)

    click = await alice.click(msg, "Next frame")
    assert click.response_type == 7
    general = twin_guild.channel("general")
    edited = await general.wait_for_message(lambda m: m.content == "frame 2")
    assert edited.id == msg.id and edited.edit_count == 1
    await alice.click(msg, "frame:next")  # by custom_id too
    await general.wait_for_message(lambda m: m.content == "frame 3")


async def test_defer_then_followup_with_file_upload(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot, tmp_path: Path
) -> None:
    source = tmp_path / "input.png"
    source.write_bytes(png_bytes(40, 30, (0, 0, 255)))
    bob = discord_twin.member(twin_guild, "bob")
    handle = await bob.slash("demo render", image=source, scale=2)
    assert handle.response_type == 5
    result = await handle.response()
    assert result.content == "rendered input.png at 80x60"
    image = result.attachment("render.png").image()
    assert image.size == (80, 60) and image.getpixel((0, 0)) == (200, 10, 10)
    # The bot downloaded the user's attachment from the CDN before answering.
    assert len(discord_twin.cdn.downloads) == 1
    # The first followup after a "thinking" defer replaced the loading message.
    assert result.id == handle.record.original_message_id
    saved = result.attachment().save(tmp_path)
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_modal_with_text_input_and_file_upload(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot, tmp_path: Path
) -> None:
    ref = tmp_path / "ref.png"
    ref.write_bytes(png_bytes(10, 10, (1, 2, 3)))
    carol = discord_twin.member(twin_guild, "carol")
    opened = await carol.slash("demo ask")
    assert opened.response_type == 9 and opened.modal is not None
    assert opened.modal["title"] == "Describe the edit"
    second = png_bytes(20, 20, (9, 9, 9))
    await carol.submit_modal(
        {"Prompt": "the red car", "Reference images": [ref, ("b.png", second)]}
    )
    reply = await twin_guild.channel("general").wait_for_message(lambda m: "prompt=" in m.content)
    assert reply.content == (
        f"prompt=the red car files=['ref.png', 'b.png'] sizes={[ref.stat().st_size, len(second)]}"
    )


async def test_modal_refuses_what_the_client_would_refuse(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    carol = discord_twin.member(twin_guild, "carol")
    await carol.slash("demo ask")
    with pytest.raises(TwinUsageError, match="required"):
        await carol.submit_modal({"Reference images": Upload("a.png", b"x")})
    with pytest.raises(TwinUsageError, match=r"takes 1\.\.2 files"):
        await carol.submit_modal(
            prompt="x", images=[("a.png", b"1"), ("b.png", b"2"), ("c.png", b"3")]
        )


async def test_layout_components_button_and_deferred_update(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    dave = discord_twin.member(twin_guild, "dave")
    board = await (await dave.slash("demo board")).response()
    assert board.flags & (1 << 15) and board.content == ""
    assert "board v1" in board.text and board.button_labels == ["Undo"]
    click = await dave.click(board, "Undo")
    assert click.response_type == 6
    await twin_guild.channel("general").wait_for_message(lambda m: "undone" in m.text)
    assert board.buttons == []


async def test_autocomplete_returns_the_bots_choices(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    erin = discord_twin.member(twin_guild, "erin")
    choices = await erin.autocomplete("demo pick", "fruit", "ap")
    assert [c["value"] for c in choices] == ["apple", "apricot"]
    handle = await erin.slash("demo pick", fruit="cherry")
    reply = await handle.response()
    assert reply.ephemeral and reply.visible_to == erin.id and reply.content == "picked cherry"


async def test_message_context_menu_on_a_users_video(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    frank = discord_twin.member(twin_guild, "frank")
    general = twin_guild.channel("general")
    posted = await frank.send(general, "look", files=[("clip.mp4", tiny_mp4())])
    video = posted.attachment("clip.mp4")
    assert (video.width, video.height, video.content_type) == (64, 48, "video/mp4")
    handle = await frank.context_menu("Edit video with Kling", posted)
    assert (await handle.response()).content == "editing ['clip.mp4']"


async def test_thread_from_the_reply(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    gina = discord_twin.member(twin_guild, "gina")
    handle = await gina.slash("demo thread", name="edit-1")
    reply = await handle.response()
    general = twin_guild.channel("general")
    thread = await discord_twin.wait_until(lambda: general.threads)
    assert thread[0].id == reply.id and thread[0].name == "edit-1"
    inside = await thread[0].wait_for_message()
    assert inside.content == "inside the thread"


async def test_slash_checks_the_registered_schema(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    hal = discord_twin.member(twin_guild, "hal")
    with pytest.raises(TwinUsageError, match="no command 'nope'"):
        await hal.slash("nope")
    with pytest.raises(TwinUsageError, match="needs a subcommand"):
        await hal.slash("demo")
    with pytest.raises(TwinUsageError, match="above the maximum 4"):
        await hal.slash("demo render", image=("a.png", png_bytes(2, 2, (0, 0, 0))), scale=9)
    with pytest.raises(TwinUsageError, match="'image' is required"):
        await hal.slash("demo render")
    assert discord_twin.interactions == {}


async def test_cdn_links_are_signed_and_expire(
    discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    f = discord_twin.store_file(1, "a.png", png_bytes(4, 4, (5, 5, 5)))
    url = discord_twin.cdn.url(f)
    assert "?ex=" in url and "&is=" in url and "&hm=" in url
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
            assert (await resp.read()) == f.data
        async with session.get(url.replace("hm=", "hm=0")) as resp:
            assert resp.status == 404
        discord_twin.clock.advance(25 * 3600)
        async with session.get(url) as resp:
            assert resp.status == 404
        async with session.get(discord_twin.cdn.url(f)) as resp:  # a freshly signed link works
            assert resp.status == 200
    assert io.BytesIO(f.data).read(4) == b"\x89PNG"


async def test_first_response_with_multipart_file(
    discord_twin: DiscordTwin, twin_guild: TwinGuild, minibot: MiniBot
) -> None:
    ivy = discord_twin.member(twin_guild, "ivy")
    msg = await (await ivy.slash("demo card")).response()
    assert msg.content == "card" and msg.attachment("card.png").image().size == (12, 8)
