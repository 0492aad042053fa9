"""The catalogues against the code: nothing missing, empty, stale or mis-placeholdered."""

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.i18n.catalogues import catalogue
from bot.i18n.check import catalogue_problems, project_problems
from bot.i18n.extract import Extraction, SourceMessage, extract_file, project_messages
from bot.i18n.update import update_catalogues


def test_every_message_in_the_code_is_translated_in_every_language() -> None:
    problems = project_problems()
    assert not problems, "\n".join(problems[:30])


def test_the_code_really_has_messages_to_check() -> None:
    found = project_messages()
    keys = set(found.messages)
    assert len(keys) > 150
    assert (
        "There is no editing session in this channel. Start one with `/kling edit`.",
        None,
    ) in keys
    assert ("frame {frame} · {seconds:.2f} s", None) in keys  # the board caption
    where = found.messages[("Kling's account is out of credits; ask a server admin.", None)]
    assert where.locations[0][0] == "bot/kling/errors.py"


def test_the_catalogues_declare_their_language() -> None:
    for locale, language in (("id", "id"), ("pt_BR", "pt_BR"), ("en", "en")):
        parsed = catalogue(locale)
        assert parsed is not None and str(parsed.locale) == language


def _catalog(locale: str, entries: dict[tuple[str, str | None], str]) -> Catalog:
    catalog = Catalog(locale=locale)
    for (msgid, context), text in entries.items():
        catalog.add(msgid, text, context=context)
    return catalog


def test_the_check_fails_on_a_missing_an_empty_a_stale_and_a_broken_entry() -> None:
    expected = [("Hello {name}.", None), ("Bye.", None), ("Later.", None)]
    catalog = _catalog(
        "id",
        {
            ("Hello {name}.", None): "Halo {nama}.",  # placeholder renamed
            ("Bye.", None): "",  # empty
            ("Gone.", None): "Hilang.",  # stale
            ("edit", "command"): "sunting",  # a command string: the cogs' test judges it
        },
    )
    problems = catalogue_problems(expected, catalog, "id")
    assert any("placeholders differ" in p and "Hello" in p for p in problems)
    assert any("no checked translation" in p and "Bye." in p for p in problems)
    assert any("missing" in p and "Later." in p for p in problems)
    assert any("stale" in p and "Gone." in p for p in problems)
    assert not any("edit" in p for p in problems)
    assert any(
        "edit" in p for p in catalogue_problems(expected, catalog, "id", stale_contexts=True)
    )


def test_the_english_catalogue_must_repeat_the_source() -> None:
    catalog = _catalog("en", {("Bye.", None): "Goodbye."})
    assert catalogue_problems([("Bye.", None)], catalog, "en")
    assert not catalogue_problems([("Bye.", None)], _catalog("en", {("Bye.", None): "Bye."}), "en")


def test_extraction_reports_text_that_can_never_be_in_a_catalogue(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from bot.i18n import Msg, translate\n"
        "a = Msg('Plain {x}.', x=1)\n"
        "b = Msg('Button', msgctxt='button')\n"
        "c = Msg(f'{a} built')\n"
        "d = translate('id', 'Direct.')\n"
        "e = 'abc'.translate({})\n"  # str.translate is not ours
        "f = Msg(variable)\n"
    )
    found = Extraction()
    extract_file(source, tmp_path, found)
    assert set(found.messages) == {("Plain {x}.", None), ("Button", "button"), ("Direct.", None)}
    assert [p.split(":")[1] for p in found.problems] == ["4", "7"]


def test_updating_keeps_translations_adds_new_messages_and_drops_gone_ones(tmp_path: Path) -> None:
    old = [SourceMessage("Kept {n}.", None, [("a.py", 1)]), SourceMessage("Gone.", None)]
    update_catalogues(old, tmp_path)
    po = tmp_path / "id" / "LC_MESSAGES" / "kling.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="id")
    catalog.get("Kept {n}.").string = "Tetap {n}."
    with po.open("wb") as handle:
        write_po(handle, catalog)

    update_catalogues([old[0], SourceMessage("New.", "button", [("b.py", 2)])], tmp_path)
    with po.open("rb") as handle:
        updated = read_po(handle, locale="id")
    assert updated.get("Kept {n}.").string == "Tetap {n}."
    assert updated.get("New.", context="button").string == ""
    assert updated.get("Gone.") is None
    with (tmp_path / "en" / "LC_MESSAGES" / "kling.po").open("rb") as handle:
        english = read_po(handle, locale="en")
    assert english.get("New.", context="button").string == "New."
    assert (tmp_path / "kling.pot").exists()
