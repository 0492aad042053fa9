"""The words for a job's kind and state, shared by the confirmation card, job cards, result
posts, `/kling status` and `/kling jobs`, so each is translated once."""

from __future__ import annotations

from bot.i18n import Capitalised, Msg, Text
from bot.storage import JobKind, JobState

# Lower case: they sit inside sentences ("Submit this remove job?"); Capitalised() starts one.
_KINDS: dict[str, Msg] = {
    JobKind.EDIT_REMOVAL.value: Msg("remove", msgctxt="job kind"),
    JobKind.EDIT_SWAP.value: Msg("swap", msgctxt="job kind"),
    JobKind.EDIT_ADDITION.value: Msg("add", msgctxt="job kind"),
    JobKind.ANIMATE.value: Msg("animate", msgctxt="job kind"),
}
_STATES: dict[str, Msg] = {
    JobState.QUEUED.value: Msg("queued", msgctxt="job state"),
    JobState.SUBMITTING.value: Msg("submitting", msgctxt="job state"),
    JobState.SUBMITTED.value: Msg("submitted", msgctxt="job state"),
    JobState.PROCESSING.value: Msg("processing", msgctxt="job state"),
    JobState.SUCCEEDED.value: Msg("posting", msgctxt="job state"),
    JobState.DELIVERING.value: Msg("posting", msgctxt="job state"),
    JobState.DELIVERED.value: Msg("done", msgctxt="job state"),
    JobState.FAILED.value: Msg("failed", msgctxt="job state"),
    JobState.CANCELLED.value: Msg("cancelled", msgctxt="job state"),
}


def kind_name(kind: JobKind | str) -> Text:
    """``remove``, ``swap``, ``add`` or ``animate`` (translatable; unknown kinds as stored)."""
    value = str(getattr(kind, "value", kind))
    return _KINDS.get(value) or Text(value)


def kind_title(kind: JobKind | str) -> Text:
    """The kind starting a phrase: ``Remove``."""
    return Capitalised(kind_name(kind))


def state_name(state: JobState | str) -> Text:
    value = str(getattr(state, "value", state))
    return _STATES.get(value) or Text(value)
