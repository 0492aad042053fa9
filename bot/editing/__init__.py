"""The editing workflow without Discord: the service the cogs call, and what it returns."""

from bot.editing.service import EditingService, FreshVideoUrl
from bot.editing.views import BoardView, PointView, PreviewFiles, SubmitPlan, VideoCheck

__all__ = [
    "BoardView",
    "EditingService",
    "FreshVideoUrl",
    "PointView",
    "PreviewFiles",
    "SubmitPlan",
    "VideoCheck",
]
