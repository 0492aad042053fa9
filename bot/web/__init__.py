"""The bot's web server: Kling's callbacks and the click-to-mark picker page (SPEC §10).

Nothing here imports Discord: the board refresh after a web mark and members' names come from
a :class:`~bot.web.picker.DiscordSide` the cogs provide.
"""

from bot.web.picker import DiscordSide, Picker
from bot.web.server import WebServer, create_web_app
from bot.web.tokens import BadTokenError, PickerToken, TokenSigner, new_signing_key

__all__ = [
    "BadTokenError",
    "DiscordSide",
    "Picker",
    "PickerToken",
    "TokenSigner",
    "WebServer",
    "create_web_app",
    "new_signing_key",
]
