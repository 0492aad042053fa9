"""Messages that know their English text now and can render themselves in any locale later.

A :class:`Msg` *is* a ``str`` (its value is the English text), so code, logs and tests that treat
messages as strings keep working; ``msg.render(locale)`` looks the msgid up in that locale's
catalogue and fills the placeholders there. Parameters that are themselves :class:`Text` render
in the same locale, so a sentence built from translated parts stays in one language.

Anything done to a Msg with ordinary ``str`` operations (``+``, f-strings, ``.join``) gives a plain,
English-only ``str``: compose messages with placeholders, :class:`Joined` and
:class:`Capitalised` instead.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Mapping
from typing import Any

from bot.i18n.catalogues import lookup
from bot.i18n.locales import DEFAULT_LOCALE, locale_for

log = logging.getLogger(__name__)

_FORMATTER = string.Formatter()


def placeholders(text: str) -> frozenset[str]:
    """The named fields of a ``str.format`` template: ``"{n} of {limit:d}"`` -> {n, limit}."""
    names = set()
    for _literal, field, _spec, _conversion in _FORMATTER.parse(text):
        if field is not None:
            names.add(field.split(".", 1)[0].split("[", 1)[0])
    return frozenset(names)


class Text(str):
    """A ``str`` holding the English text that can also render itself in another locale."""

    def render(self, locale: object = None) -> str:
        """The text in ``locale`` (a catalogue name or anything :func:`locale_for` takes)."""
        return str.__str__(self)

    def __str__(self) -> str:
        return str.__str__(self)


def render(text: object, locale: object = None) -> str:
    """Any message in ``locale``: a :class:`Text` is translated, anything else is ``str()``-ed."""
    if isinstance(text, Text):
        return text.render(locale)
    return str(text)


class Msg(Text):
    """One catalogue message: ``Msg("You have used your {limit} jobs.", limit=3)``.

    ``msgid`` is the English source text with ``str.format`` placeholders; ``msgctxt`` tells
    apart two messages whose English is the same but whose translations differ.
    """

    msgid: str
    msgctxt: str | None
    params: Mapping[str, Any]

    def __new__(cls, msgid: str, /, *, msgctxt: str | None = None, **params: Any) -> Msg:
        english = msgid.format_map(_rendered(params, DEFAULT_LOCALE)) if params else msgid
        self = super().__new__(cls, english)
        self.msgid = msgid
        self.msgctxt = msgctxt
        self.params = params
        return self

    def render(self, locale: object = None) -> str:
        code = locale_for(locale)
        if code == DEFAULT_LOCALE:
            return str.__str__(self)
        template = lookup(code, self.msgid, self.msgctxt) or self.msgid
        if not self.params:
            return template
        values = _rendered(self.params, code)
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError, AttributeError):
            # A catalogue with broken placeholders must not cost the user the message.
            log.warning("bad placeholders in the %s translation of %r", code, self.msgid)
            return self.msgid.format_map(values)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_msg, (self.msgid, self.msgctxt, dict(self.params)))


def _rebuild_msg(msgid: str, msgctxt: str | None, params: dict[str, Any]) -> Msg:
    return Msg(msgid, msgctxt=msgctxt, **params)


def _rendered(params: Mapping[str, Any], locale: str) -> dict[str, Any]:
    return {k: v.render(locale) if isinstance(v, Text) else v for k, v in params.items()}


class Joined(Text):
    """Several messages shown one after the other: ``Joined(violations, " ")``."""

    parts: tuple[object, ...]
    separator: str

    def __new__(cls, parts: Iterable[object], separator: str = " ") -> Joined:
        items = tuple(parts)
        self = super().__new__(cls, separator.join(str(part) for part in items))
        self.parts = items
        self.separator = separator
        return self

    def render(self, locale: object = None) -> str:
        return self.separator.join(render(part, locale) for part in self.parts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Joined, (self.parts, self.separator))


class Capitalised(Text):
    """A message that starts a sentence: its first letter upper-cased in every language."""

    inner: object

    def __new__(cls, inner: object) -> Capitalised:
        self = super().__new__(cls, _capitalise(str(inner)))
        self.inner = inner
        return self

    def render(self, locale: object = None) -> str:
        return _capitalise(render(self.inner, locale))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Capitalised, (self.inner,))


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def translate(locale: object, msgid: str, /, *, msgctxt: str | None = None, **params: Any) -> str:
    """``Msg(msgid, **params).render(locale)`` in one call, for text used once and at once."""
    return Msg(msgid, msgctxt=msgctxt, **params).render(locale)
