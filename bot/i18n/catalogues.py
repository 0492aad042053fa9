"""Reading the gettext catalogues (``bot/locales/<locale>/LC_MESSAGES/kling.po``) with Babel.

The ``.po`` files are read as they are (no compile step, so an install from the source tree or a
wheel needs nothing more); each is parsed once per process and cached. Fuzzy entries (a
translation a tool guessed but nobody checked) are ignored, like gettext does.
"""

from __future__ import annotations

import functools
import io
import logging
from importlib import resources
from importlib.resources.abc import Traversable

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n.locales import LOCALES

log = logging.getLogger(__name__)

DOMAIN = "kling"
# msgctxt of the slash-command strings (cogs/translator.py), which the source extractor cannot see:
# names (lower case, no spaces, at most 32 characters), context-menu names, descriptions, choices.
COMMAND_CONTEXTS = frozenset({"command", "context-menu", "command-description", "choice"})


def locales_dir() -> Traversable:
    return resources.files("bot") / "locales"


def catalogue_file(locale: str) -> Traversable:
    return locales_dir() / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def catalogue(locale: str) -> Catalog | None:
    """The parsed catalogue of ``locale``, or None when there is none (never raises)."""
    source = catalogue_file(locale)
    try:
        data = source.read_bytes()
    except OSError:
        log.warning("no message catalogue for %s at %s", locale, source)
        return None
    return read_po(io.BytesIO(data), locale=locale, domain=DOMAIN, abort_invalid=True)


def lookup(locale: str, msgid: str, context: str | None = None) -> str | None:
    """The checked, non-empty translation of ``msgid`` in ``locale``, or None."""
    parsed = catalogue(locale)
    if parsed is None:
        return None
    entry = parsed.get(msgid, context=context)
    if entry is None or entry.fuzzy or not isinstance(entry.string, str) or not entry.string:
        return None
    return entry.string


def load_all() -> dict[str, int]:
    """Parse every catalogue now (at start-up) rather than on the first message; the number of
    messages in each. Raises if a catalogue is malformed, so a broken file stops the start."""
    counts: dict[str, int] = {}
    for locale in LOCALES:
        parsed = catalogue(locale)
        counts[locale] = 0 if parsed is None else sum(1 for entry in parsed if entry.id)
    return counts
