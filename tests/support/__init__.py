"""Test support shared by convo's tests and benchmarks: a real local Chat Completions server."""

from tests.support.chatserver import (
    Answer,
    ChatServer,
    Drop,
    Events,
    Raw,
    Recorded,
    Respond,
    error,
    html_page,
)

__all__ = [
    "Answer",
    "ChatServer",
    "Drop",
    "Events",
    "Raw",
    "Recorded",
    "Respond",
    "error",
    "html_page",
]
