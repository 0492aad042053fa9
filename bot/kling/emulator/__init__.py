"""A local stand-in for Kling's Multi-Elements and multi-image2video API.

It imitates the API (paths, envelope, codes, validation, task lifecycle, callbacks) and produces
real media, but its segmentation and edits are simple image processing, not Kling's models.
"""

from bot.kling.emulator.app import create_emulator_app
from bot.kling.emulator.callbacks import CallbackDelivery, sign, signature_headers
from bot.kling.emulator.clock import Clock, ManualClock, SystemClock
from bot.kling.emulator.config import EmulatorConfig
from bot.kling.emulator.faults import ENDPOINTS, CallRecord, FaultInjector, FaultRule
from bot.kling.emulator.server import KlingEmulator, run_emulator

__all__ = [
    "ENDPOINTS",
    "CallRecord",
    "CallbackDelivery",
    "Clock",
    "EmulatorConfig",
    "FaultInjector",
    "FaultRule",
    "KlingEmulator",
    "ManualClock",
    "SystemClock",
    "create_emulator_app",
    "run_emulator",
    "sign",
    "signature_headers",
]
