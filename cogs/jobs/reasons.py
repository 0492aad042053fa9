"""A failed or cancelled job's stored reason, shown in the reader's language.

The runner stores the reason as its English text (``jobs.status_msg``: logs, the database and
``bot/`` stay English and unchanged). Most reasons are catalogue messages (the Kling errors, the
runner's own timeouts), so at display time the English text is matched against the English
catalogue: an exact msgid, or a template whose placeholders become the captured values, is
rendered again in the reader's locale. Anything else (Kling's own words about a failed task, an
older bot's text) is shown as it was stored. This needs no schema change and translates jobs
that failed before an upgrade too.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass

from bot.i18n import COMMAND_CONTEXTS, Msg, Text
from bot.i18n import Msg as CatalogueMessage
from bot.i18n.catalogues import catalogue
from bot.i18n.locales import DEFAULT_LOCALE

# `CatalogueMessage` is Msg under another name: there the msgid comes from the catalogue itself
# (so it is in it already), and the extractor, which wants literal text in `Msg(...)`, must not
# report it.

# A template must hold this much literal text to be matched at all: "{frame} ({count} pt)"
# would match nearly anything.
_MIN_LITERAL = 12
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    msgid: str
    msgctxt: str | None
    numeric: frozenset[str]  # fields with a format spec: the value must be a number again
    literal: int


def _compile(msgid: str, msgctxt: str | None) -> _Template | None:
    parts: list[str] = []
    seen: set[str] = set()
    numeric: set[str] = set()
    literal = 0
    try:
        parsed = list(_FORMATTER.parse(msgid))
    except ValueError:
        return None
    for text, field, spec, conversion in parsed:
        parts.append(re.escape(text))
        literal += len(text)
        if field is None:
            continue
        if not field.isidentifier() or conversion:
            return None  # attribute/index lookups cannot be rebuilt from text
        if field in seen:
            parts.append(f"(?P={field})")
            continue
        seen.add(field)
        if spec:
            numeric.add(field)
        parts.append(f"(?P<{field}>.+?)")
    if literal < _MIN_LITERAL:
        return None
    return _Template(
        re.compile("".join(parts), re.DOTALL), msgid, msgctxt, frozenset(numeric), literal
    )


@functools.cache
def _templates() -> tuple[_Template, ...]:
    english = catalogue(DEFAULT_LOCALE)
    if english is None:
        return ()
    found = [
        template
        for entry in english
        if entry.id
        and entry.context not in COMMAND_CONTEXTS
        and (template := _compile(str(entry.id), entry.context)) is not None
    ]
    # The most specific first: more literal text means a less accidental match.
    return tuple(sorted(found, key=lambda t: -t.literal))


def _number(text: str) -> int | float | None:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return None


def _rebuilt(template: _Template, stored: str) -> Msg | None:
    match = template.pattern.fullmatch(stored)
    if match is None:
        return None
    params: dict[str, object] = dict(match.groupdict())
    for name in template.numeric:
        value = _number(str(params[name]))
        if value is None:
            return None
        params[name] = value
    try:
        message = CatalogueMessage(template.msgid, msgctxt=template.msgctxt, **params)
    except (ValueError, KeyError, IndexError):
        return None
    # Only a faithful round trip counts (e.g. "1.50" must not come back as "1.5").
    return message if str(message) == stored else None


def stored_reason(stored: str | None) -> Text | None:
    """The stored reason as a message that renders in any locale (None when there is none)."""
    if stored is None or not stored.strip():
        return None
    if isinstance(stored, Text):
        return stored
    for template in _templates():
        if template.numeric or "{" in template.msgid:
            rebuilt = _rebuilt(template, stored)
        else:
            rebuilt = (
                CatalogueMessage(template.msgid, msgctxt=template.msgctxt)
                if template.msgid == stored
                else None
            )
        if rebuilt is not None:
            return rebuilt
    return Text(stored)
