"""Server-sent events, as the OpenAI SDKs read them.

>>> frame({"a": 1})
b'data: {"a":1}\\n\\n'
>>> frame({"type": "response.created"}, event="response.created")
b'event: response.created\\ndata: {"type":"response.created"}\\n\\n'
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["DONE", "HEADERS", "frame"]

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(data: Any, *, event: str | None = None) -> bytes:
    """One event; ``data`` is JSON-encoded on one line."""
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"
