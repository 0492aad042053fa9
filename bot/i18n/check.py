"""What is wrong with a catalogue, compared with the messages the code uses.

Used by the tests (a missing, empty, stale or badly-placeholdered entry fails them) and handy
after editing a ``.po`` by hand::

    python -m bot.i18n.check
"""

from __future__ import annotations

from collections.abc import Collection

from babel.messages.catalog import Catalog

from bot.i18n.catalogues import COMMAND_CONTEXTS, catalogue
from bot.i18n.extract import project_messages
from bot.i18n.locales import DEFAULT_LOCALE, LOCALES
from bot.i18n.message import placeholders

Key = tuple[str, str | None]


def _label(key: Key) -> str:
    msgid, context = key
    return f"{msgid!r}" + (f" [{context}]" if context else "")


def catalogue_problems(
    expected: Collection[Key], catalog: Catalog, locale: str, *, stale_contexts: bool = False
) -> list[str]:
    """Missing, empty, fuzzy, stale or placeholder-mismatched entries of ``catalog``.

    ``expected`` are the (msgid, msgctxt) pairs the code uses. Entries with a command context
    count as stale only when ``stale_contexts`` (the cogs' test knows the full command list).
    """
    problems: list[str] = []
    for key in expected:
        msgid, context = key
        entry = catalog.get(msgid, context=context)
        if entry is None:
            problems.append(f"{locale}: missing {_label(key)}")
        elif not entry.string or entry.fuzzy:
            problems.append(f"{locale}: no checked translation for {_label(key)}")
        elif placeholders(str(entry.string)) != placeholders(msgid):
            problems.append(f"{locale}: placeholders differ in {_label(key)}: {entry.string!r}")
        elif locale == DEFAULT_LOCALE and entry.string != msgid:
            problems.append(
                f"{locale}: the English catalogue must repeat the source text of {_label(key)}"
            )
    wanted = set(expected)
    for entry in catalog:
        if not entry.id:
            continue
        key = (str(entry.id), entry.context)
        command_string = entry.context in COMMAND_CONTEXTS
        if key not in wanted and (stale_contexts or not command_string):
            problems.append(f"{locale}: stale entry {_label(key)} (no longer in the code)")
    return problems


def project_problems() -> list[str]:
    """Every problem of this checkout's catalogues with its bot/ and cogs/ messages."""
    found = project_messages()
    problems = list(found.problems)
    for locale in LOCALES:
        parsed = catalogue(locale)
        if parsed is None:
            problems.append(f"{locale}: no catalogue")
            continue
        problems += catalogue_problems(list(found.messages), parsed, locale)
    return problems


if __name__ == "__main__":
    issues = project_problems()
    print("\n".join(issues) or "catalogues complete")
    raise SystemExit(1 if issues else 0)
