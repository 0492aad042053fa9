"""Settings of one emulator instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.kling.emulator.clock import Clock, SystemClock

# Emulator-only billing figures. Kling does not publish per-call unit costs for these endpoints,
# so these are plausible placeholders that let the bot's usage accounting be exercised.
DEFAULT_UNITS = {
    ("multi-elements", "std", "5"): "3",
    ("multi-elements", "pro", "5"): "5",
    ("multi-elements", "std", "10"): "6",
    ("multi-elements", "pro", "10"): "10",
    ("multi-image2video", "std", "5"): "1",
    ("multi-image2video", "pro", "5"): "3.5",
    ("multi-image2video", "std", "10"): "2",
    ("multi-image2video", "pro", "10"): "7",
}


@dataclass
class EmulatorConfig:
    """How the emulator behaves. Every field has a default suitable for local use."""

    # Auth: with all three unset any Bearer token is accepted, and so is no header at all
    # unless `require_authorization` is set.
    api_key: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    # Refuse requests without an Authorization header (1001), as Kling does, even with no key
    # set. `kling-bot emulator` turns it on; the bot's emulator provider always sends a header.
    require_authorization: bool = False
    # Standard-Webhooks secret ("whsec_<base64>") used to sign callback POSTs.
    webhook_secret: str | None = None
    # Time each task spends in "submitted" and again in "processing" (on `clock`).
    seconds_per_stage: float = 1.0
    clock: Clock = field(default_factory=SystemClock)
    session_ttl_seconds: float = 24 * 3600
    # Prompts containing any of these words (case-insensitive) make the task fail the way a
    # content-policy rejection does.
    forbidden_words: tuple[str, ...] = ("forbidden",)
    # Require <<<video_1>>> in multi-elements prompts; refuse <<<image_N>>> beyond the images sent.
    strict_prompt_refs: bool = True
    max_download_bytes: int = 200 * 1024 * 1024
    download_timeout_seconds: float = 30.0
    # Where videos, masks and results are written; a temporary folder when None.
    work_dir: Path | None = None
    # Public base URL for file links; derived from the request's Host when None.
    public_base_url: str | None = None
    # Longest side of preview-selection videos and covers (results keep the input's size).
    preview_max_side: int = 1280
    # Processes that render preview videos; 0 renders them on threads of the emulator's own
    # process. Rendering holds the GIL most of the time, so on threads it slows every other
    # request the emulator serves (file downloads included) far beyond what Kling's servers
    # and CDN would: load benchmarks give it processes of its own.
    render_processes: int = 0
    # How much lower the render processes' scheduling priority is (``nice``): on a machine the
    # emulator shares with the bot, Kling's rendering (done on Kling's own machines) should not
    # take CPU the bot is waiting for.
    render_niceness: int = 0
    # Long side of multi-image2video clips. At 1280 the short side of 16:9 and 9:16 is 720, so
    # a clip is itself a valid Multi-Elements input; tests lower it for speed.
    image2video_long_side: int = 1280
    # Colour distance (0-441, RGB Euclidean) under which a pixel joins a clicked region.
    colour_tolerance: float = 48.0
    units: dict[tuple[str, str, str], str] = field(default_factory=lambda: dict(DEFAULT_UNITS))

    @property
    def auth_required(self) -> bool:
        return bool(self.api_key or self.secret_key)
