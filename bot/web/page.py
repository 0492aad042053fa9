"""The picker page and its two static files, shipped in ``bot/web/static``.

The files are read once, by name, from an allow-list: no request path is ever joined to a
folder, so nothing outside the static folder can be served whatever the URL holds.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources
from string import Template

from bot.i18n import Msg, locale_for
from bot.web import texts

STATIC_TYPES = {"picker.js": "text/javascript", "picker.css": "text/css"}


@lru_cache(maxsize=8)
def static_file(name: str) -> bytes | None:
    """The bytes of an allowed static file, or None (the caller answers 404)."""
    if name not in STATIC_TYPES:
        return None
    return resources.files("bot.web").joinpath("static", name).read_bytes()


@lru_cache(maxsize=1)
def _template() -> Template:
    text = resources.files("bot.web").joinpath("static", "picker.html").read_text("utf-8")
    return Template(text)


def _html_lang(locale: object) -> str:
    return locale_for(locale).replace("_", "-")


def render_page(*, token: str, session_id: int, locale: object) -> str:
    """The page in the member's language; the token rides in the static URLs and the config."""
    config = {"token": token, "sessionId": session_id, "texts": texts.page_texts(locale)}
    # Inside <script type="application/json">: only "</" could end the element early.
    blob = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    quoted_token = html.escape(token, quote=True)

    def text(message: Msg) -> str:
        return html.escape(message.render(locale), quote=True)

    return _template().substitute(
        lang=html.escape(_html_lang(locale)),
        title=text(texts.TITLE),
        hint=text(texts.HINT),
        frame_label=text(texts.FRAME_LABEL),
        undo=text(texts.UNDO),
        clear=text(texts.CLEAR),
        points=text(texts.POINTS),
        css=f"static/picker.css?t={quoted_token}",
        js=f"static/picker.js?t={quoted_token}",
        config=blob,
    )
