"""Board image drawing: the one place in the bot that draws images."""

from bot.render.board import (
    BOARD_LONG_SIDE,
    IMAGE_MEDIA_TYPES,
    MASK_COLOURS,
    ImageFormat,
    display_size,
    mask_colour,
    mask_colours,
    render_board,
)

__all__ = [
    "BOARD_LONG_SIDE",
    "IMAGE_MEDIA_TYPES",
    "MASK_COLOURS",
    "ImageFormat",
    "display_size",
    "mask_colour",
    "mask_colours",
    "render_board",
]
