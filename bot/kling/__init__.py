"""Kling API client, models, errors and the local emulator.

Typical use::

    async with aiohttp.ClientSession() as http:
        client = KlingClient(http, make_provider("kling", api_key=...))
        session = await client.init_selection(video_url=url)
"""

from bot.kling.auth import (
    COMETAPI_BASE_URL,
    KLING_BASE_URL,
    CometApiProvider,
    EmulatorProvider,
    JwtSigner,
    KlingProvider,
    Provider,
    make_provider,
)
from bot.kling.client import EDIT_PATH, MULTI_IMAGE_PATH, KlingClient
from bot.kling.errors import (
    AccessDeniedError,
    AuthError,
    BillingError,
    ConcurrencyFullError,
    ContentPolicyError,
    CreateOutcomeUnknownError,
    InvalidInputError,
    KlingError,
    MalformedResponseError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    SelectionRejectedError,
    ServerError,
    error_for,
    error_for_cometapi,
)
from bot.kling.models import (
    BalanceDeduction,
    MaskObject,
    PreviewResult,
    SelectionResult,
    SelectionSession,
    Task,
    TaskPage,
    TaskStatus,
    TaskVideo,
)
from bot.kling.retry import RetryPolicy
from bot.kling.task_requests import CreateEditTask, CreateMultiImageTask, EditMode

__all__ = [
    "COMETAPI_BASE_URL",
    "EDIT_PATH",
    "KLING_BASE_URL",
    "MULTI_IMAGE_PATH",
    "AccessDeniedError",
    "AuthError",
    "BalanceDeduction",
    "BillingError",
    "CometApiProvider",
    "ConcurrencyFullError",
    "ContentPolicyError",
    "CreateEditTask",
    "CreateMultiImageTask",
    "CreateOutcomeUnknownError",
    "EditMode",
    "EmulatorProvider",
    "InvalidInputError",
    "JwtSigner",
    "KlingClient",
    "KlingError",
    "KlingProvider",
    "MalformedResponseError",
    "MaskObject",
    "NetworkError",
    "NotFoundError",
    "PreviewResult",
    "Provider",
    "RateLimitError",
    "RetryPolicy",
    "SelectionRejectedError",
    "SelectionResult",
    "SelectionSession",
    "ServerError",
    "Task",
    "TaskPage",
    "TaskStatus",
    "TaskVideo",
    "error_for",
    "error_for_cometapi",
    "make_provider",
]
