"""Regenerate the message template and catalogues from the source, keeping every translation.

    python -m bot.i18n.update            # bot/ and cogs/ messages only (no Discord needed)
    python tools/update_catalogues.py    # the same plus the slash-command strings

Writes ``bot/locales/kling.pot`` and updates ``bot/locales/<locale>/LC_MESSAGES/kling.po``:
new messages get an empty translation (the completeness test then fails until someone writes
it), messages gone from the source are dropped, and the English catalogue is filled with the
source text itself. Exits 1 when a message call has no literal text.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.i18n.catalogues import COMMAND_CONTEXTS, DOMAIN
from bot.i18n.extract import SourceMessage, project_messages, project_root
from bot.i18n.locales import DEFAULT_LOCALE, LOCALES

PROJECT = "kling-discord-bot"


def locales_path() -> Path:
    return project_root() / "bot" / "locales"


def template_for(messages: Iterable[SourceMessage]) -> Catalog:
    template = Catalog(project=PROJECT, domain=DOMAIN, fuzzy=False)
    for message in sorted(messages, key=lambda m: (m.locations[:1], m.msgid, m.msgctxt or "")):
        template.add(message.msgid, locations=message.locations, context=message.msgctxt)
    return template


def _read(path: Path, locale: str) -> Catalog:
    if not path.exists():
        return Catalog(locale=locale, project=PROJECT, domain=DOMAIN, fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def _write(path: Path, catalog: Catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, ignore_obsolete=True, include_previous=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def update_catalogues(messages: Iterable[SourceMessage], folder: Path | None = None) -> None:
    folder = folder or locales_path()
    messages = list(messages)
    _write(folder / f"{DOMAIN}.pot", template_for(messages))
    for locale in LOCALES:
        path = folder / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        catalog = _read(path, locale)
        # No fuzzy matching: a guessed translation of a changed message is worse than none.
        # A fresh template each time: Babel adopts the template's own entries for new messages.
        catalog.update(template_for(messages), no_fuzzy_matching=True, update_header_comment=False)
        if locale == DEFAULT_LOCALE:
            for entry in catalog:
                if entry.id:
                    entry.string = entry.id
        _write(path, catalog)


def _kept_command_strings(folder: Path) -> list[SourceMessage]:
    """The slash-command strings of the current template: only the cogs can list them afresh."""
    path = folder / f"{DOMAIN}.pot"
    if not path.exists():
        return []
    return [
        SourceMessage(entry.id, entry.context, list(entry.locations))
        for entry in _read(path, DEFAULT_LOCALE)
        if isinstance(entry.id, str) and entry.id and entry.context in COMMAND_CONTEXTS
    ]


def main(command_strings: Iterable[SourceMessage] | None = None) -> int:
    """Update from the source; ``command_strings`` None keeps the template's command strings."""
    found = project_messages()
    for problem in found.problems:
        print(problem, file=sys.stderr)
    messages = dict(found.messages)
    if command_strings is None:
        command_strings = _kept_command_strings(locales_path())
    for entry in command_strings:
        messages.setdefault(entry.key, entry)
    update_catalogues(messages.values())
    print(f"{len(messages)} messages; catalogues in {locales_path()}")
    return 1 if found.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
