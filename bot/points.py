"""Parse what users type to mark points and pick frames (SPEC §4).

A ``points`` string holds tokens separated by spaces or semicolons; each token is a grid cell
(``C4``), normalised coordinates (``0.42,0.61``), percentages (``42%,61%``) or video pixels
(``640,360px``). The result is a list of normalised ``(x, y)`` floats, x right and y down, exactly
the values to send to Kling and to store.

Unicode: text is NFKC-normalised first, so fullwidth forms typed on CJK keyboards
(``Ｃ４``, ``４２％，６１％``, ``；``) mean the same as their ASCII twins, and error messages quote
the normalised token. Digits from other scripts (Arabic-Indic, Devanagari, ...) are refused
with a message asking for 0-9: Python would silently read them as numbers, and a look-alike
is more likely a slip than intent.
"""

from __future__ import annotations

import math
import re
import unicodedata

from bot.errors import as_text
from bot.fit import excerpt
from bot.grid import BoardGrid
from bot.i18n import Msg, Text

__all__ = [
    "MAX_POINTS_PER_FRAME",
    "FrameRefError",
    "PointsError",
    "format_time",
    "parse_frame_ref",
    "parse_points",
    "parse_time",
]

MAX_POINTS_PER_FRAME = 10  # Kling: "Up to 10 points can be marked on a single frame"

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NORMALISED = re.compile(rf"({_NUMBER}),({_NUMBER})")
_PERCENT = re.compile(rf"({_NUMBER})%,({_NUMBER})%")
_PIXELS = re.compile(rf"({_NUMBER})(?:px)?,({_NUMBER})px", re.IGNORECASE)
_HALF_PERCENT = re.compile(rf"{_NUMBER}%?,{_NUMBER}%?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf(?:inity)?)(?:%|px)?", re.IGNORECASE)
# Spaces typed around the comma or before "px" belong to one token, not two.
_SPACED_COMMA = re.compile(r"\s*,\s*")
_SPACED_PX = re.compile(r"\s+(?=px\b)", re.IGNORECASE)
_SPACED_PERCENT = re.compile(r"\s+(?=%)")
_SEPARATORS = re.compile(r"[\s;]+")
# Characters NFKC leaves alone but that people paste in place of ASCII punctuation.
_LOOKALIKES = str.maketrans({"−": "-", "–": "-", "‚": ",", "、": ",", "٫": "."})


class PointsError(ValueError):
    """A points string that cannot be used; ``token`` is the offending part, if one is."""

    def __init__(self, message: Text, token: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.token = token


class FrameRefError(ValueError):
    """A frame number or time that does not name a frame of the video."""

    @property
    def message(self) -> Text:
        """The message as a translatable :class:`~bot.i18n.Text`."""
        return as_text(self.args[0] if self.args else "")


NO_POINTS = Msg("no points given: try a cell like `C4` or coordinates like `0.42,0.61`")


def _too_many(token: str, existing: int, parsed: int, max_points: int) -> Msg:
    shown = excerpt(token)  # a long bad token is quoted in part, not whole
    number = existing + parsed + 1
    if existing:
        return Msg(
            "`{token}` would be point {number} on this frame; at most {max} points per"
            " frame (it already has {existing})",
            token=shown,
            number=number,
            max=max_points,
            existing=existing,
        )
    return Msg(
        "`{token}` would be point {number} on this frame; at most {max} points per frame",
        token=shown,
        number=number,
        max=max_points,
    )


def _normalise_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)


def _split_tokens(text: str) -> list[str]:
    joined = _SPACED_COMMA.sub(",", text.strip())
    joined = _SPACED_PERCENT.sub("", _SPACED_PX.sub("", joined))
    return [token for token in _SEPARATORS.split(joined) if token]


def _strip_brackets(token: str) -> str:
    if len(token) >= 2 and (token[0], token[-1]) in {("(", ")"), ("[", "]")}:
        return token[1:-1]
    return token


def _has_foreign_digits(token: str) -> bool:
    return any(ch.isdigit() and not ch.isascii() for ch in token)


def _finite(value: str, token: str) -> float:
    shown = excerpt(token)  # a long bad token is quoted in part, not whole
    number = float(value)
    if not math.isfinite(number):
        raise PointsError(Msg("`{token}` is not a finite number", token=shown), token)
    return number


def parse_points(
    text: str,
    grid: BoardGrid,
    *,
    video_width: int | None = None,
    video_height: int | None = None,
    existing_count: int = 0,
    max_points: int = MAX_POINTS_PER_FRAME,
) -> list[tuple[float, float]]:
    """Parse a ``points`` string into normalised ``(x, y)`` pairs.

    ``existing_count`` is how many points the frame already has; the total may not exceed
    ``max_points``. ``video_width``/``video_height`` are needed only for pixel tokens.
    Raises :class:`PointsError` naming the first offending token; nothing is returned partially.
    """
    if not isinstance(text, str) or not text.strip():
        raise PointsError(NO_POINTS)
    tokens = _split_tokens(_normalise_text(text))
    if not tokens:
        raise PointsError(NO_POINTS)
    points: list[tuple[float, float]] = []
    for token in tokens:
        if existing_count + len(points) >= max_points:
            raise PointsError(_too_many(token, existing_count, len(points), max_points), token)
        points.append(_parse_token(token, grid, video_width, video_height))
    return points


def _parse_token(
    token: str, grid: BoardGrid, video_width: int | None, video_height: int | None
) -> tuple[float, float]:
    shown = excerpt(token)  # a long bad token is quoted in part, not whole
    if _has_foreign_digits(token):
        raise PointsError(
            Msg("`{token}` uses digits other than 0-9; please type them as 0-9", token=shown), token
        )
    body = _strip_brackets(token)
    if grid.looks_like_cell(body):
        cell = grid.parse_cell(body)
        if cell is None:
            raise PointsError(
                Msg(
                    "`{token}` is not a cell on this board ({grid})",
                    token=shown,
                    grid=grid.describe(),
                ),
                token,
            )
        return grid.cell_centre(cell)
    if match := _PERCENT.fullmatch(body):
        x, y = (_finite(v, token) for v in match.groups())
        if not (0.0 <= x <= 100.0 and 0.0 <= y <= 100.0):
            raise PointsError(
                Msg("`{token}` is outside the frame (percentages go from 0% to 100%)", token=shown),
                token,
            )
        return x / 100.0, y / 100.0
    if match := _PIXELS.fullmatch(body):
        return _pixel_point(token, match, video_width, video_height)
    if match := _NORMALISED.fullmatch(body):
        x, y = (_finite(v, token) for v in match.groups())
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            message = (
                Msg(
                    "`{token}` is outside the frame (x and y go from 0 to 1) (did you mean"
                    " pixels, like `640,360px`, or percent?)",
                    token=shown,
                )
                if max(x, y) > 1
                else Msg("`{token}` is outside the frame (x and y go from 0 to 1)", token=shown)
            )
            raise PointsError(message, token)
        return x, y
    if any(_NOT_FINITE.fullmatch(part.strip()) for part in body.split(",")):
        raise PointsError(Msg("`{token}` is not a finite number", token=shown), token)
    if _HALF_PERCENT.fullmatch(body):
        raise PointsError(
            Msg("`{token}` mixes forms: write both as percent, like `42%,61%`", token=shown), token
        )
    raise PointsError(
        Msg(
            "`{token}` is not a point: use a cell (`C4`), `0.42,0.61`, `42%,61%` or `640,360px`",
            token=shown,
        ),
        token,
    )


def _pixel_point(
    token: str, match: re.Match[str], video_width: int | None, video_height: int | None
) -> tuple[float, float]:
    shown = excerpt(token)  # a long bad token is quoted in part, not whole
    if not video_width or not video_height:
        raise PointsError(
            Msg("`{token}` is in pixels but the video size is not known yet", token=shown), token
        )
    x, y = (_finite(v, token) for v in match.groups())
    # Pixel columns run 0..width-1; the right/bottom edge itself (= width) is still in frame.
    if not (0.0 <= x <= video_width and 0.0 <= y <= video_height):
        raise PointsError(
            Msg(
                "`{token}` is outside the frame (the video is {width}x{height} px)",
                token=shown,
                width=video_width,
                height=video_height,
            ),
            token,
        )
    return x / video_width, y / video_height


# Frames and times --------------------------------------------------------------------------

_TIME_SECONDS = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(s|sec|ms)?", re.IGNORECASE)
_TIME_CLOCK = re.compile(r"(?:([0-9]+):)?([0-9]{1,2}):([0-9]{1,2}(?:\.[0-9]*)?)")


def parse_time(text: str) -> float:
    """Seconds from ``"1.5s"``, ``"1.5"``, ``"1500ms"``, ``"00:01.5"`` or ``"1:02:03.5"``."""
    raw = text
    shown = excerpt(raw)
    text = _normalise_text(text).strip()
    if _has_foreign_digits(text):
        raise FrameRefError(
            Msg("`{token}` uses digits other than 0-9; please type them as 0-9", token=shown)
        )
    if match := _TIME_SECONDS.fullmatch(text):
        seconds = float(match.group(1))
        return seconds / 1000.0 if (match.group(2) or "").lower() == "ms" else seconds
    if match := _TIME_CLOCK.fullmatch(text):
        hours, minutes, secs = match.groups()
        if int(minutes) >= 60 or float(secs) >= 60:
            raise FrameRefError(
                Msg("`{time}` is not a valid time (minutes and seconds go up to 59)", time=shown)
            )
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
    raise FrameRefError(
        Msg("`{time}` is not a time: use seconds like `1.5s` or `00:01.5`", time=shown)
    )


def format_time(seconds: float) -> str:
    """``83.25`` -> ``"1:23.25"``, ``1.5`` -> ``"0:01.50"``: the board's caption format."""
    minutes, rest = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes)}:{rest:05.2f}"


def parse_frame_ref(
    frame: int | None,
    time: str | None,
    fps: float,
    total_frame: int,
    *,
    default: int | None = None,
) -> int:
    """Resolve a frame given by number or by time into a 0-based index in ``0..total_frame-1``.

    With neither given, ``default`` is returned if set. Giving both is refused, to avoid
    guessing which one the user meant.
    """
    if total_frame <= 0:
        raise FrameRefError(Msg("the video has no frames"))
    last = total_frame - 1
    if frame is not None and time is not None and str(time).strip():
        raise FrameRefError(Msg("give either a frame number or a time, not both"))
    if frame is not None:
        if isinstance(frame, bool) or not isinstance(frame, int):
            raise FrameRefError(
                Msg("frame must be a whole number, got `{frame}`", frame=excerpt(frame))
            )
        if not 0 <= frame <= last:
            raise FrameRefError(
                Msg("frame {frame} is outside this video (frames 0–{last})", frame=frame, last=last)
            )
        return frame
    if time is None or not str(time).strip():
        if default is not None:
            return default
        raise FrameRefError(Msg("give a frame number or a time"))
    if not (fps > 0 and math.isfinite(fps)):
        raise FrameRefError(Msg("the video's frame rate is unknown, so times cannot be used"))
    seconds = parse_time(time)
    # A tiny epsilon keeps 0.7 s at 30 fps on frame 21 despite 0.7 * 30 = 20.999...
    index = math.floor(seconds * fps + 1e-6)
    if index > last:
        raise FrameRefError(
            Msg(
                "`{time}` is after the end of the video (the last frame, {last}, is at {at})",
                time=excerpt(time),
                last=last,
                at=format_time(last / fps),
            )
        )
    return index
