"""Turning what a member typed into the exact request Kling will get (SPEC §2, reference §2.7).

Templates follow Kling's recommended prompts. The member types plain language naming the object
("the red car"); a leading verb that repeats the mode ("remove the red car") is dropped so the
template does not say it twice. A prompt that already contains ``<<<video_1>>>`` is the member's
own full prompt and is sent as written (after cleaning).

- removal: ``Delete {x} from <<<video_1>>>``
- swap:    ``swap {new} from <<<image_1>>> for {x} from <<<video_1>>>``; ``{x}`` is what the member
           typed (the marked object), ``{new}`` is "the subject" unless they wrote
           "{x} with {new}" / "{x} for {new}" / "{x} -> {new}", in which case both are used.
- addition: ``Using the context of <<<video_1>>>, seamlessly add {x} from <<<image_1>>>``
           (``... from <<<image_1>>> and <<<image_2>>>`` with two images).
"""

from __future__ import annotations

import re
import unicodedata

from bot.editing.views import SubmitPlan
from bot.errors import UserFacingError
from bot.fit import excerpt
from bot.i18n import Msg
from bot.jobs.kling_backend import animate_request
from bot.policy import MODES, check_mode_allowed
from bot.storage import GuildSettings, JobKind, NewJob

MAX_PROMPT_CHARS = 2500

_KIND_NAMES = {
    "removal": JobKind.EDIT_REMOVAL,
    "remove": JobKind.EDIT_REMOVAL,
    "swap": JobKind.EDIT_SWAP,
    "addition": JobKind.EDIT_ADDITION,
    "add": JobKind.EDIT_ADDITION,
}
_IMAGE_COUNTS = {
    JobKind.EDIT_REMOVAL: (0, 0),
    JobKind.EDIT_SWAP: (1, 1),
    JobKind.EDIT_ADDITION: (1, 2),
}
_LEADING_VERB = {
    JobKind.EDIT_REMOVAL: re.compile(r"^(?:please\s+)?(?:delete|remove|erase|get rid of)\s+", re.I),
    JobKind.EDIT_SWAP: re.compile(r"^(?:please\s+)?(?:swap|replace|change|exchange)\s+", re.I),
    JobKind.EDIT_ADDITION: re.compile(r"^(?:please\s+)?(?:add|insert|put|place)\s+", re.I),
}
_SWAP_SPLIT = re.compile(r"\s+(?:with|for|->|→|=>|by)\s+", re.I)
VIDEO_REF = "<<<video_1>>>"
IMAGE_REF = re.compile(r"<<<image_(\d+)>>>")
# Anything Kling might take for an input reference: every one must name an input this job has.
_ANY_REF = re.compile(r"<<<[^<>]*>>>")
_SPACES = re.compile(r"[ \t]+")
PROMPT = Msg("prompt")


def edit_kind(kind: str) -> JobKind:
    """``removal``/``swap``/``addition`` (or the JobKind values) as a JobKind."""
    text = str(kind).strip().lower()
    if text in _KIND_NAMES:
        return _KIND_NAMES[text]
    try:
        job_kind = JobKind(text)
    except ValueError:
        job_kind = None
    if job_kind is None or job_kind not in _IMAGE_COUNTS:
        raise UserFacingError(
            Msg("`{kind}` is not an edit; use removal, swap or addition.", kind=kind)
        )
    return job_kind


def check_image_count(kind: JobKind, count: int) -> None:
    low, high = _IMAGE_COUNTS[kind]
    if kind is JobKind.EDIT_REMOVAL and count:
        raise UserFacingError(Msg("A removal takes no reference image; leave the image out."))
    if kind is JobKind.EDIT_SWAP and count != 1:
        raise UserFacingError(
            Msg(
                "A swap needs exactly one reference image: the thing to put in place of the"
                " marked object (you gave {count}).",
                count=count,
            )
        )
    if not low <= count <= high:
        raise UserFacingError(
            Msg(
                "An addition needs one or two reference images of what to add (you gave {count}).",
                count=count,
            )
        )


def clean_text(text: str | None) -> str:
    """Control and format characters removed, tabs and line breaks made spaces, trimmed."""
    if not text:
        return ""
    kept = []
    for char in unicodedata.normalize("NFC", text):
        if char in "\t\r\n":
            kept.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co"):
            continue
        else:
            kept.append(char)
    return _SPACES.sub(" ", "".join(kept)).strip()


def _check_length(text: str, what: Msg) -> None:
    if len(text) > MAX_PROMPT_CHARS:
        raise UserFacingError(
            Msg(
                "The {what} is {length} characters long; Kling accepts at most {max}.",
                what=what,
                length=len(text),
                max=MAX_PROMPT_CHARS,
            )
        )


def _subject(kind: JobKind, text: str) -> str:
    subject = _LEADING_VERB[kind].sub("", text).strip().rstrip(".!")
    return subject or text


def _allowed_references(image_count: int, has_video: bool) -> list[str]:
    images = [f"<<<image_{n}>>>" for n in range(1, image_count + 1)]
    return ([VIDEO_REF] if has_video else []) + images


def check_references(text: str, *, image_count: int, has_video: bool) -> None:
    """Refuse any ``<<<...>>>`` token that is not one of this job's inputs (the video, if there
    is one, and the images actually attached): Kling would read it as part of the prompt."""
    allowed = _allowed_references(image_count, has_video)
    for token in _ANY_REF.findall(text):
        if token in allowed:
            continue
        number = IMAGE_REF.fullmatch(token)
        if number and int(number.group(1)) >= 1:
            raise UserFacingError(
                Msg(
                    "The prompt mentions <<<image_{number}>>> but the edit has {count} reference"
                    " image(s).",
                    number=number.group(1),
                    count=image_count,
                )
            )
        raise UserFacingError(
            Msg(
                "The prompt mentions `{token}`, which is not one of this job's inputs; use"
                " {allowed}.",
                token=excerpt(token),
                allowed=", ".join(f"`{a}`" for a in allowed),
            )
        )


def build_prompt(kind: JobKind, prompt: str, *, image_count: int) -> str:
    """The prompt exactly as it will be sent to Kling."""
    text = clean_text(prompt)
    if not text:
        raise UserFacingError(
            Msg("The prompt is empty; describe the marked object, e.g. `the red car`.")
        )
    check_references(text, image_count=image_count, has_video=True)
    if VIDEO_REF in text:
        _check_length(text, PROMPT)
        return text
    subject = _subject(kind, text)
    if kind is JobKind.EDIT_REMOVAL:
        built = f"Delete {subject} from {VIDEO_REF}"
    elif kind is JobKind.EDIT_SWAP:
        parts = _SWAP_SPLIT.split(subject, maxsplit=1)
        old, new = (
            (parts[0], parts[1]) if len(parts) == 2 and all(parts) else (subject, "the subject")
        )
        built = f"swap {new} from <<<image_1>>> for {old} from {VIDEO_REF}"
    else:
        images = " and ".join(f"<<<image_{n}>>>" for n in range(1, max(image_count, 1) + 1))
        built = f"Using the context of {VIDEO_REF}, seamlessly add {subject} from {images}"
    _check_length(built, PROMPT)
    return built


def clean_negative(negative_prompt: str | None) -> str | None:
    text = clean_text(negative_prompt)
    if not text:
        return None
    _check_length(text, Msg("negative prompt"))
    return text


def choose_mode(mode: str | None, settings: GuildSettings) -> str:
    chosen = (mode or settings.default_mode or "std").strip().lower()
    if chosen not in MODES:
        raise UserFacingError(Msg("`{mode}` is not a mode; use std or pro.", mode=mode))
    check_mode_allowed(settings, chosen)
    return chosen


ANIMATE_DURATIONS = ("5", "10")
ANIMATE_ASPECTS = ("16:9", "9:16", "1:1")


def check_animate(image_count: int, duration: str, aspect_ratio: str) -> None:
    if not 2 <= image_count <= 4:
        raise UserFacingError(
            Msg("Animate needs 2 to 4 images (you gave {count}).", count=image_count)
        )
    if duration not in ANIMATE_DURATIONS:
        raise UserFacingError(
            Msg("`{duration}` is not a duration; use 5 or 10 seconds.", duration=duration)
        )
    if aspect_ratio not in ANIMATE_ASPECTS:
        raise UserFacingError(
            Msg("`{ratio}` is not an aspect ratio; use 16:9, 9:16 or 1:1.", ratio=aspect_ratio)
        )


def animate_prompt(prompt: str, *, image_count: int) -> str:
    text = clean_text(prompt)
    if not text:
        raise UserFacingError(Msg("The prompt is empty; describe what should happen in the video."))
    check_references(text, image_count=image_count, has_video=False)
    _check_length(text, PROMPT)
    return text


def animate_job(plan: SubmitPlan) -> NewJob:
    """The job of an animate plan (multi-image2video; no editing session)."""
    return NewJob(
        kind=JobKind.ANIMATE,
        guild_id=plan.guild_id,
        channel_id=plan.channel_id,
        requester_id=plan.requester_id,
        request=animate_request(
            prompt=plan.prompt,
            image_paths=plan.image_paths,
            negative_prompt=plan.negative_prompt,
            mode=plan.mode,
            duration=plan.duration,
            aspect_ratio=plan.aspect_ratio or "16:9",
        ),
    )
