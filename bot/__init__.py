"""Kling video-editing bot: everything that does not need Discord."""
