"""Languages through the Discord stand-in: a member's replies in their client's language, channel
messages (board, job card, result) in the server's, slash commands localised in the synced
schema, and a changed translation registered again on the next start (SPEC §8, issue 6 item 5).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.i18n import catalogues
from cogs.core.tree import report_error
from tests.cogs.harness import KlingWorld, kling_world, make_reference_image
from tests.discord_twin import TwinMessage

__all__ = ["kling_world"]

RED, GREEN = (200, 40, 40), (40, 200, 40)


def speaker(world: KlingWorld, name: str, locale: str) -> Any:
    """A member whose Discord client is in `locale` (sent with each of their interactions)."""
    actor = world.twin.member(world.guild, name)
    actor.member.locale = locale
    return actor


def animate_images(world: KlingWorld) -> dict[str, Path]:
    return {
        "image1": make_reference_image(world.tmp / "red.png", RED),
        "image2": make_reference_image(world.tmp / "green.png", GREEN),
    }


async def test_an_indonesian_member_gets_indonesian_replies_and_an_english_one_english(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    ines = speaker(world, "ines", "id")
    async with world.bot():
        status = await (await ines.slash("kling status")).response()
        assert status.ephemeral
        assert status.content == (
            "Tidak ada sesi penyuntingan di channel ini. Mulai dengan `/kling edit`."
        )
        english = await (await world.alice.slash("kling status")).response()
        assert english.content == (
            "There is no editing session in this channel. Start one with `/kling edit`."
        )

        both = await (await ines.slash("kling frame", frame=3, time="1s")).response()
        assert both.content == "Berikan `frame` atau `time`, jangan keduanya."

        # The confirmation card: text and buttons in Indonesian; nothing paid before Submit.
        card = await (
            await ines.slash(
                "kling animate", prompt="kartu merah jadi hijau", **animate_images(world)
            )
        ).response(timeout=20)
        assert card.visible_to == ines.id
        assert "### Kirim tugas animasi ini?" in card.text
        assert "**Rasio aspek:** 16:9" in card.text and "**Durasi:** 5 d" in card.text
        assert card.button_labels == ["Kirim", "Batal"]
        await ines.click(card, "Batal")
        await world.twin.wait_until(
            lambda: (
                "Dibatalkan: tidak ada yang dikirim ke Kling."
                in world.twin.find_message(card.id).text
            ),
            10,
        )
        assert world.emulator.faults.calls["multi-image2video:create"] == 0


def is_pt_board(message: TwinMessage) -> bool:
    return "## Painel de edição do Kling" in message.text and bool(message.buttons)


async def test_a_portuguese_server_reads_its_board_job_card_and_result_in_portuguese(
    kling_world: KlingWorld,
) -> None:
    world = kling_world
    world.guild.locale = "pt-BR"  # the server's preferred locale, sent when the bot connects
    ines = speaker(world, "ines", "id")
    alice = world.alice  # an English client in that server
    async with world.bot():
        opened = await (await alice.slash("kling edit", video=world.video())).response(timeout=30)
        assert opened.content.startswith("Your editing session is open: ")
        board = await world.channel.wait_for_message(is_pt_board, timeout=30)
        assert "**Quadro 0 / 59**" in board.text and "Nenhum ponto ainda" in board.text
        assert {
            "Adicionar pontos",
            "Desfazer",
            "Limpar",
            "Prévia",
            "Remover",
            "Trocar",
            "Adicionar",
        } <= set(board.button_labels)

        # A points error is the Indonesian member's; the English member's mark stays English.
        refused = await (await ines.slash("kling mark", points="Z99")).response()
        same = await (await alice.slash("kling mark", points="Z99")).response()
        assert refused.ephemeral
        assert refused.content == "`Z99` bukan sel di papan ini (kolom A–J, baris 1–6)"
        assert same.content == "`Z99` is not a cell on this board (columns A–J, rows 1–6)"
        marked = await (await alice.slash("kling mark", points="E3")).response()
        assert marked.content.startswith("Marked frame 0: 1 point(s) there now.")
        board = await world.board(predicate=lambda m: "#1 por" in m.text)
        assert "**Marcado por:**" in board.text

        # The job card and the result post are channel messages: Portuguese, whoever asked.
        await world.bot_settings(confirm_submits=False)
        submitted = await (await alice.slash("kling remove", prompt="the green square")).response(
            timeout=20
        )
        assert submitted.content.startswith("Submitted job ")
        card = await world.channel.wait_for_message(
            lambda m: m.text.startswith("**Tarefa do Kling** · Remover · std"), timeout=20
        )
        assert f"Pedida por <@{alice.id}>" in card.text
        result = await world.channel.wait_for_message(
            lambda m: "seu resultado está pronto" in m.content, timeout=60
        )
        assert result.button_labels == ["Editar este resultado"]
        done = await world.channel.wait_for_message(
            lambda m: m.id == card.id and "✅ Pronto" in m.text, timeout=30
        )
        assert "Decorrido" in done.text

        # /kling jobs is the asker's: Indonesian for Ines, in the Portuguese server.
        jobs = await (await ines.slash("kling jobs")).response()
        embed = jobs.embeds[0]
        assert embed["title"] == "Tugas Kling terbaru"
        assert "✅ selesai · **hapus**" in embed["description"]


def synced_commands(world: KlingWorld) -> dict[str, dict[str, Any]]:
    registered = world.twin.global_commands + world.twin.guild_commands.get(world.guild.id, [])
    return {c["name"]: c for c in registered}


def command_puts(world: KlingWorld) -> int:
    return sum(1 for r in world.twin.requests if r.method == "PUT" and r.path.endswith("/commands"))


@pytest.fixture
def editable_catalogues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of bot/locales the bot reads instead, so a test can change a translation."""
    copy = tmp_path / "locales"
    shutil.copytree(Path(catalogues.__file__).parents[1] / "locales", copy)
    monkeypatch.setattr(catalogues, "locales_dir", lambda: copy)
    catalogues.catalogue.cache_clear()
    yield copy
    catalogues.catalogue.cache_clear()


def change_translation(folder: Path, locale: str, msgid_line: str, new: str) -> None:
    po = folder / locale / "LC_MESSAGES" / "kling.po"
    lines = po.read_text(encoding="utf-8").splitlines()
    at = lines.index(msgid_line)
    assert lines[at + 1].startswith("msgstr "), lines[at + 1]
    lines[at + 1] = f'msgstr "{new}"'
    po.write_text("\n".join(lines) + "\n", encoding="utf-8")
    catalogues.catalogue.cache_clear()  # as a new process would read it


async def test_the_synced_schema_is_localised_and_a_changed_translation_is_synced_again(
    kling_world: KlingWorld,
    editable_catalogues: Path,
) -> None:
    world = kling_world
    async with world.bot():
        pass
    assert command_puts(world) == 1
    kling = synced_commands(world)["kling"]
    assert kling["name_localizations"] == {"id": "kling", "pt-BR": "kling"}
    assert kling["description_localizations"]["id"] == "Sunting video pendek dengan Kling AI"
    edit = next(o for o in kling["options"] if o["name"] == "edit")
    assert edit["name_localizations"] == {"id": "sunting", "pt-BR": "editar"}
    assert set(edit["description_localizations"]) == {"id", "pt-BR"}
    menu = synced_commands(world)["Edit video with Kling"]
    assert menu["name_localizations"]["pt-BR"] != "Edit video with Kling"

    async with world.bot():  # nothing changed: no second registration
        pass
    assert command_puts(world) == 1

    # A translator renames /kling edit in Indonesian: the next start registers again.
    change_translation(editable_catalogues, "id", 'msgid "edit"', "edit-video")
    async with world.bot():
        pass
    assert command_puts(world) == 2
    kling = synced_commands(world)["kling"]
    edit = next(o for o in kling["options"] if o["name"] == "edit")
    assert edit["name_localizations"]["id"] == "edit-video"


class _Response:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def is_done(self) -> bool:
        return bool(self.sent)

    async def send_message(self, content: str, *, ephemeral: bool) -> None:
        assert ephemeral
        self.sent.append(content)


class _Interaction:
    """Just what report_error and send_reply read of an interaction."""

    def __init__(self, locale: str) -> None:
        self.locale = discord.Locale(locale)
        self.response = _Response()
        self.id = 1


async def test_an_unexpected_error_is_reported_in_the_member_s_language(
    caplog: pytest.LogCaptureFixture,
) -> None:
    interaction = _Interaction("pt-BR")
    error_id = await report_error(
        interaction,
        RuntimeError("boom"),  # type: ignore[arg-type]
        where="test",
    )
    assert error_id is not None and error_id in caplog.text
    expected = f"Algo deu errado do nosso lado (id do erro `{error_id}`)."
    assert interaction.response.sent == [expected]
    english = _Interaction("en-US")
    cooldown = app_commands.CommandOnCooldown(app_commands.Cooldown(1, 5.0), 4.2)
    assert await report_error(english, cooldown, where="test") is None  # type: ignore[arg-type]
    assert english.response.sent == ["Slow down: try again in 4 s."]
