"""Which catalogue serves a Discord locale.

Discord sends locales such as ``"id"``, ``"pt-BR"``, ``"en-US"``; the catalogues are named the
gettext way (``id``, ``pt_BR``, ``en``). Anything without a catalogue is served in English.
"""

from __future__ import annotations

DEFAULT_LOCALE = "en"
LOCALES: tuple[str, ...] = ("en", "id", "pt_BR")

# Language subtag -> catalogue. Discord has no pt-PT, and "in" is the old ISO code for
# Indonesian that some Java-era clients still send; both are closer to a catalogue than English.
_BY_LANGUAGE = {"en": "en", "id": "id", "in": "id", "pt": "pt_BR"}


def locale_for(discord_locale: object) -> str:
    """The catalogue for a Discord locale (``discord.Locale``, its value, or None): en, id, pt_BR.

    ``discord.Locale.indonesian`` -> ``"id"``, ``"pt-BR"`` -> ``"pt_BR"``, ``"en-GB"``, ``"fr"``,
    ``None`` -> ``"en"``.
    """
    if discord_locale is None:
        return DEFAULT_LOCALE
    text = str(getattr(discord_locale, "value", discord_locale)).strip()
    if text in LOCALES:
        return text
    language = text.replace("_", "-").split("-", 1)[0].lower()
    return _BY_LANGUAGE.get(language, DEFAULT_LOCALE)
