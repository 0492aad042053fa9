"""Editing sessions: `/kling edit` and the session commands, the board, its buttons and modals,
marking, the zoom picker and the web picker's Discord side."""
