"""Messages in English, Indonesian and Brazilian Portuguese, from gettext catalogues.

Where things are
    ``bot/locales/kling.pot``                        the template (every message, generated)
    ``bot/locales/<locale>/LC_MESSAGES/kling.po``   one catalogue per locale: ``en``, ``id``,
                                                    ``pt_BR`` (read with Babel at start-up; no
                                                    compile step, shipped in the wheel)

A message is its English text with named ``str.format`` placeholders (classic gettext: the code
stays readable and English is the fallback)::

    from bot.i18n import Msg

    NO_SESSION = Msg("There is no editing session in this channel. Start one with `/kling edit`.")
    raise UserFacingError(Msg("You have used your {limit} jobs for today.", limit=3))

A :class:`Msg` *is* a ``str`` holding the English text, so logs and English-only callers work
unchanged. To show it to a person, render it in their locale::

    await interaction.response.send_message(msg.render(interaction.locale))     # ephemeral reply
    await channel.send(msg.render(guild.preferred_locale))                      # channel message
    text = user_message_for(error, interaction.locale)    # any error (bot.errors)

``render`` takes a ``discord.Locale``, a Discord locale string (``"pt-BR"``) or a catalogue name
(``"pt_BR"``); anything without a catalogue, and any message a catalogue lacks, is English.
``translate(locale, "Cancel")`` renders at once when the text is used right there. Parameters
that are messages render in the same locale
(``Msg("The {what} is too long.", what=Msg("prompt"))``); :class:`Joined` strings several
messages together, :class:`Capitalised` upper-cases the first letter of whatever language it
ends up in. ``msgctxt="..."`` tells apart two messages with the same English but different
translations (``Msg("Add", msgctxt="button")``).

Keep the text literal (``Msg(f"...")`` or ``Msg(variable)`` cannot be extracted, and the tests
report it) and keep markdown, backticks, mentions and ``<t:...:R>`` timestamps inside the message
so translators can move them.

Adding or changing a message
    1. Write ``Msg("English text with {placeholders}", placeholders=...)`` in the code.
    2. Run ``python tools/update_catalogues.py`` (or ``python -m bot.i18n.update``, which needs no
       Discord and keeps the slash-command strings as they are): the template and the catalogues
       get the new entry, with the English catalogue filled in.
    3. Write the ``msgstr`` in ``bot/locales/id/...`` and ``bot/locales/pt_BR/...``; keep every
       ``{placeholder}``. ``tests/bot/i18n/test_catalogues.py`` fails until every locale has a
       translation with the same placeholders, and when a catalogue keeps a message the code no
       longer uses.

Which locale
    Ephemeral replies and anything one member reads: ``interaction.locale`` (the member's client
    language). Channel messages everybody reads (the board, job cards, results): the server's
    ``guild.preferred_locale`` (``interaction.guild_locale`` inside an interaction). The board
    image's caption is drawn by ``bot.editing``: pass
    ``EditingService(..., board_locale=lambda session: <the guild's preferred_locale>)``.
    ``EditingService.point_choices(..., locale=interaction.locale)`` words the undo autocomplete.

Converting the cogs' own strings (the pattern for a later pass)::

    text = Msg("Job {job} is waiting in the queue (place {place}).", job=job.id, place=3)
    await channel.send(text.render(channel.guild.preferred_locale))            # everybody reads
    await interaction.followup.send(text.render(interaction.locale), ephemeral=True)  # one member

i.e. wrap every literal in ``Msg`` at the place it is written (a module constant is fine; call
it again with the parameters, or give the parameters right away), render at the moment it is
sent, with the reader's locale. Button labels, select options, modal titles and placeholders
are messages like any other (use ``msgctxt="button"`` etc. when a short word is ambiguous);
``discord.ui`` items built per interaction can take ``translate(locale, "Submit")``.

Checking
    ``python -m bot.i18n.check`` lists missing, empty, stale or placeholder-mismatched entries
    (the same check the tests run).

Slash commands (names, descriptions, option descriptions, choices) are translated by
``cogs.core.translator.KlingTranslator`` from the same catalogues, under the msgctxt values in
:data:`COMMAND_CONTEXTS`.
"""

from bot.i18n.catalogues import COMMAND_CONTEXTS, load_all, lookup
from bot.i18n.locales import DEFAULT_LOCALE, LOCALES, locale_for
from bot.i18n.message import Capitalised, Joined, Msg, Text, placeholders, render, translate

__all__ = [
    "COMMAND_CONTEXTS",
    "DEFAULT_LOCALE",
    "LOCALES",
    "Capitalised",
    "Joined",
    "Msg",
    "Text",
    "load_all",
    "locale_for",
    "lookup",
    "placeholders",
    "render",
    "translate",
]
