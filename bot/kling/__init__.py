"""Kling API client, models, errors and the local emulator."""
