"""Rendering messages: each language, English fallbacks, placeholders, nested messages."""

import pickle

import pytest

from bot import i18n
from bot.i18n import Capitalised, Joined, Msg, Text, locale_for, render, translate

NO_SESSION = "There is no editing session in this channel. Start one with `/kling edit`."


def test_a_message_is_its_english_text() -> None:
    msg = Msg(NO_SESSION)
    assert msg == NO_SESSION
    assert isinstance(msg, str)
    assert str(msg) == NO_SESSION and type(str(msg)) is str
    assert msg.render() == msg.render("en") == msg.render("en-GB") == NO_SESSION


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("id", "Tidak ada sesi penyuntingan di channel ini. Mulai dengan `/kling edit`."),
        ("pt-BR", "Não há sessão de edição neste canal. Comece uma com `/kling edit`."),
        ("pt_BR", "Não há sessão de edição neste canal. Comece uma com `/kling edit`."),
    ],
)
def test_each_language_reads_its_catalogue(locale: str, expected: str) -> None:
    assert Msg(NO_SESSION).render(locale) == expected


def test_discord_locale_objects_work_without_importing_discord_in_bot() -> None:
    import discord

    assert locale_for(discord.Locale.indonesian) == "id"
    assert locale_for(discord.Locale.brazil_portuguese) == "pt_BR"
    assert locale_for(discord.Locale.american_english) == "en"
    assert Msg(NO_SESSION).render(discord.Locale.indonesian).startswith("Tidak ada sesi")


@pytest.mark.parametrize(
    ("discord_locale", "catalogue"),
    [
        ("id", "id"),
        ("pt-BR", "pt_BR"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("fr", "en"),
        ("es-ES", "en"),
        ("zh-CN", "en"),
        (None, "en"),
        ("", "en"),
        ("PT-br", "pt_BR"),
    ],
)
def test_locale_mapping(discord_locale: str | None, catalogue: str) -> None:
    assert locale_for(discord_locale) == catalogue


def test_unknown_locales_and_unknown_messages_fall_back_to_english() -> None:
    assert Msg(NO_SESSION).render("fr") == NO_SESSION
    assert Msg(NO_SESSION).render("ja") == NO_SESSION
    unknown = Msg("Nobody translated {thing} yet.", thing="this")
    assert unknown.render("id") == unknown.render("pt-BR") == "Nobody translated this yet."


def test_placeholders_are_filled_in_every_language() -> None:
    msg = Msg("Animate needs 2 to 4 images (you gave {count}).", count=7)
    assert msg == "Animate needs 2 to 4 images (you gave 7)."
    assert msg.render("id") == "Animasi butuh 2 sampai 4 gambar (Anda memberi 7)."
    assert msg.render("pt-BR") == "Animar precisa de 2 a 4 imagens (você enviou 7)."


def test_format_specs_survive_translation() -> None:
    caption = Msg("frame {frame} · {seconds:.2f} s", frame=12, seconds=0.4)
    assert caption == "frame 12 · 0.40 s"
    assert caption.render("id") == "bingkai 12 · 0.40 dtk"
    assert caption.render("pt-BR") == "quadro 12 · 0.40 s"


def test_nested_messages_render_in_the_same_language() -> None:
    grid = Msg("columns A–{last}, rows 1–{rows}", last="J", rows=6)
    msg = Msg("`{token}` is not a cell on this board ({grid})", token="Z9", grid=grid)
    assert msg == "`Z9` is not a cell on this board (columns A–J, rows 1–6)"
    assert msg.render("id") == "`Z9` bukan sel di papan ini (kolom A–J, baris 1–6)"
    assert msg.render("pt-BR") == "`Z9` não é uma célula deste painel (colunas A–J, linhas 1–6)"


def test_joined_and_capitalised_translate_their_parts() -> None:
    parts = [Msg("The file has no video in it."), Msg("Re-encoded as H.264 MP4.")]
    joined = Joined(parts, " ")
    assert joined == "The file has no video in it. Re-encoded as H.264 MP4."
    assert joined.render("id") == "File ini tidak berisi video. Di-encode ulang sebagai MP4 H.264."
    sentence = Capitalised(Msg("give a frame number or a time"))
    assert sentence == "Give a frame number or a time"
    assert sentence.render("pt-BR") == "Informe um número de quadro ou um tempo"


def test_plain_strings_render_as_they_are() -> None:
    assert render("Just text", "id") == "Just text"
    assert Text("Just text").render("pt-BR") == "Just text"
    assert render(42, "id") == "42"


def test_translate_renders_at_once() -> None:
    assert translate("id", "The link redirects too many times (more than {max}).", max=5) == (
        "Tautan itu dialihkan terlalu banyak kali (lebih dari 5)."
    )


def test_a_translation_with_broken_placeholders_costs_the_language_not_the_message(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("bot.i18n.message.lookup", lambda *_args: "Rusak {nope}")
    msg = Msg("Animate needs 2 to 4 images (you gave {count}).", count=1)
    assert msg.render("id") == "Animate needs 2 to 4 images (you gave 1)."
    assert "bad placeholders" in caplog.text


def test_messages_survive_pickling() -> None:
    msg = Msg(
        "`{token}` is not a cell on this board ({grid})",
        token="Z9",
        grid=Msg("columns A–{last}, rows 1–{rows}", last="J", rows=6),
    )
    original = Capitalised(Joined([msg, Msg("That is not a valid link.")]))
    again = pickle.loads(pickle.dumps(original))  # noqa: S301 (bytes this test just made)
    assert again == original
    assert again.render("id") == original.render("id") != original


def test_catalogues_load_at_start_up_with_the_same_size() -> None:
    counts = i18n.load_all()
    assert set(counts) == {"en", "id", "pt_BR"}
    assert len(set(counts.values())) == 1 and counts["en"] > 200
