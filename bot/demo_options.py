"""`kling-bot demo` options, checked the way the bot checks what members type.

Points go through the parser `/kling mark` uses (bot.points), the frame through the same frame
or time resolver, the edit mode, the prompt and the reference images through the same planning
and image checks as a channel's submit. A value that cannot be used becomes a DemoUsageError:
one line naming the option and the problem (the command exits with status 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.demo_args import DemoRequest
from bot.editing.planning import build_prompt, check_image_count, edit_kind
from bot.errors import UserFacingError
from bot.grid import BoardGrid
from bot.jobs.kling_backend import EDIT_MODES
from bot.media import MediaError, VideoInfo, normalise_reference_image, to_base64
from bot.points import FrameRefError, PointsError, parse_frame_ref, parse_points
from bot.storage import JobKind

# What the prompt names when the member did not say, per edit.
GENERATED_SUBJECT = "the red ball"
OWN_VIDEO_SUBJECT = "the marked object"
ADDED_SUBJECT = "the subject"


class DemoUsageError(ValueError):
    """An option value the demo cannot use; the message is one line naming the option."""


@dataclass(frozen=True)
class EditChoice:
    """The edit to submit: Kling's edit_mode and the reference images, ready to send."""

    kind: JobKind
    edit_mode: str
    images: tuple[str, ...]  # raw base64
    notes: tuple[str, ...]  # what was done to the images to make Kling take them


def check_video_path(video: Path | None) -> None:
    if video is not None and not video.is_file():
        what = "is a folder" if video.is_dir() else "does not exist"
        raise DemoUsageError(f"VIDEO {video} {what}")


def check_edit(request: DemoRequest) -> EditChoice:
    """Mode and reference images, before any video work (reads and converts the images)."""
    try:
        kind = edit_kind(request.mode)
    except UserFacingError as error:
        raise DemoUsageError(f"--mode: {error.message}") from None
    try:
        check_image_count(kind, len(request.images))
    except UserFacingError as error:
        raise DemoUsageError(f"--image: {error.message}") from None
    images: list[str] = []
    notes: list[str] = []
    for path in request.images:
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "does not exist"
            raise DemoUsageError(f"--image {path} {what}")
        try:
            reference = normalise_reference_image(path.read_bytes(), filename=path.name)
        except MediaError as error:
            raise DemoUsageError(f"--image {path}: {error.message}") from None
        except OSError as error:
            raise DemoUsageError(f"--image {path} cannot be read: {error.strerror}") from None
        images.append(to_base64(reference))
        notes.extend(f"{path.name}: {change}" for change in reference.changes)
    return EditChoice(kind, EDIT_MODES[kind], tuple(images), tuple(notes))


def resolve_frame(request: DemoRequest, info: VideoInfo) -> int:
    frame: int | None = None
    if request.frame is not None:
        try:
            frame = int(request.frame.strip())
        except ValueError:
            raise DemoUsageError(f"--frame: `{request.frame}` is not a whole number") from None
    try:
        return parse_frame_ref(frame, request.time, info.fps, info.frame_count, default=0)
    except FrameRefError as error:
        option = "--time" if request.time is not None and frame is None else "--frame"
        raise DemoUsageError(f"{option}: {error.message}") from None


def resolve_points(text: str, info: VideoInfo) -> list[tuple[float, float]]:
    """Every point of `text` on one frame, all or nothing, exactly as `/kling mark` reads them."""
    grid = BoardGrid.for_frame(info.width, info.height)
    try:
        return parse_points(text, grid, video_width=info.width, video_height=info.height)
    except PointsError as error:
        raise DemoUsageError(f"--points: {error.message}") from None


def resolve_prompt(request: DemoRequest, edit: EditChoice) -> str:
    """The prompt as it will be sent, built by the bot's own templates."""
    if request.prompt is not None:
        text = request.prompt
    elif edit.kind is JobKind.EDIT_ADDITION:
        text = ADDED_SUBJECT
    else:
        text = GENERATED_SUBJECT if request.video is None else OWN_VIDEO_SUBJECT
    try:
        return build_prompt(edit.kind, text, image_count=len(edit.images))
    except UserFacingError as error:
        raise DemoUsageError(f"--prompt: {error.message}") from None
