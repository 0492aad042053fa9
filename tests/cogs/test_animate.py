"""`/kling animate` end to end: images uploaded with the command, the confirmation card, the job
card, the video delivered in the channel with **Edit this result**, and a session opened on it."""

from __future__ import annotations

from bot.media import probe_video
from tests.cogs.harness import KlingWorld, kling_world, make_reference_image
from tests.database import both_backends
from tests.discord_twin import TwinMessage

__all__ = ["both_backends", "kling_world"]  # the fixtures, for pytest
# Each story runs on SQLite and again on PostgreSQL.

COLOURS = ((200, 40, 40), (40, 200, 40), (40, 40, 200), (220, 200, 30))


def animate_result(message: TwinMessage) -> bool:
    return "Edit this result" in message.button_labels and any(
        f.filename.startswith("kling-animate") and f.filename.endswith(".mp4")
        for f in message.files
    )


def images(world: KlingWorld, count: int) -> dict[str, object]:
    return {
        f"image{n}": make_reference_image(world.tmp / f"img{n}.png", COLOURS[n - 1], 400)
        for n in range(1, count + 1)
    }


async def test_two_images_in_portrait_with_confirmation(kling_world: KlingWorld) -> None:
    world = kling_world
    creates = world.emulator.faults.calls
    async with world.bot():
        handle = await world.alice.slash(
            "kling animate",
            prompt="the red card turns into the green one",
            aspect_ratio="9:16",
            **images(world, 2),
        )
        card = await handle.response(timeout=20)
        assert card.ephemeral and card.visible_to == world.alice.id
        assert "Submit this animate job?" in card.text
        assert "**Aspect ratio:** 9:16" in card.text and "**Duration:** 5 s" in card.text
        assert "**Mode:** std" in card.text and "the red card turns into the green" in card.text
        assert [f.filename for f in card.files] == ["reference1.png", "reference2.png"]
        assert creates["multi-image2video:create"] == 0  # nothing paid before Submit

        await world.alice.click(card, "Submit")
        await world.twin.wait_until(
            lambda: "Submitted job" in world.twin.find_message(card.id).text, 15
        )
        job_card = await world.channel.wait_for_message(
            lambda m: "**Kling job** · Animate · std · 5 s" in m.text, timeout=15
        )
        assert f"<@{world.alice.id}>" in job_card.text
        result = await world.channel.wait_for_message(animate_result, timeout=60)
        assert f"<@{world.alice.id}>" in result.content
        info = probe_video(result.attachments[0].save(world.tmp))
        assert info.height > info.width, (info.width, info.height)  # portrait, as asked
        assert 4.5 <= info.duration_s <= 5.5
        assert creates["multi-image2video:create"] == 1

        # Edit this result: the animated clip becomes this channel's editing session.
        opened = await world.bob.click(result, "Edit this result")
        reply = await opened.response(timeout=30)
        assert "editing session is open" in reply.content, reply.content
        board = await world.board(timeout=30)
        assert "Frame 0 /" in board.text


async def test_four_images_square_without_confirmation(kling_world: KlingWorld) -> None:
    world = kling_world
    world.emulator.runtime.config.image2video_long_side = 720  # a smaller clip, same story
    async with world.bot():
        await world.bot_settings(confirm_submits=False)
        reply = await (
            await world.bob.slash(
                "kling animate",
                prompt="four colours in turn",
                aspect_ratio="1:1",
                negative_prompt="text",
                **images(world, 4),
            )
        ).response(timeout=20)
        assert "Submitted job" in reply.content and "Animate" in reply.content
        result = await world.channel.wait_for_message(animate_result, timeout=60)
        assert f"<@{world.bob.id}>" in result.content
        info = probe_video(result.attachments[0].save(world.tmp))
        assert info.width == info.height == 720
        assert world.emulator.faults.calls["multi-image2video:create"] == 1

        # A tiny image is refused with a reason, and nothing is sent to Kling.
        tiny = make_reference_image(world.tmp / "tiny.png", (9, 9, 9), size=60)
        refused = await (
            await world.bob.slash("kling animate", prompt="again", image1=tiny, image2=tiny)
        ).response(timeout=20)
        assert "60" in refused.content and "went wrong" not in refused.content, refused.content
        assert world.emulator.faults.calls["multi-image2video:create"] == 1
