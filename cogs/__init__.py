"""Thin Discord adapters over the bot package."""
