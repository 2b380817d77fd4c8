"""The benchmark server's replies in the other wire formats, built once at start-up.

The same reply as the Chat Completions one (``REPLY_TEXT``, 500 streamed pieces), as an
Anthropic Messages JSON body or named-event stream, and as an OpenAI Responses body or
stream, so the formats' costs compare on equal work.
"""

from __future__ import annotations

import json
from collections.abc import Callable

__all__ = ["anthropic", "responses"]


def _event(name: str, data: dict[str, object]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (name.encode(), json.dumps({"type": name, **data}).encode())


def _pieces(text: str, chunks: int) -> list[str]:
    words = text.split(" ")
    return [words[i % len(words)] + " " for i in range(chunks)]


def anthropic(text: str, chunks: int) -> tuple[bytes, list[bytes]]:
    """``(json_body, events)`` of an Anthropic reply."""
    usage = {"input_tokens": 120, "output_tokens": 16}
    message = {
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": usage,
    }  # fmt: skip
    start = {**message, "content": [], "stop_reason": None}
    events = [
        _event("message_start", {"message": start}),
        _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    events += [
        _event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
        for p in _pieces(text, chunks)
    ]
    events += [
        _event("content_block_stop", {"index": 0}),
        _event("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": usage}),
        _event("message_stop", {}),
    ]
    return json.dumps(message).encode(), events


def responses(text: str, chunks: int) -> tuple[bytes, list[bytes]]:
    """``(json_body, events)`` of an OpenAI Responses reply."""
    item = {
        "type": "message", "id": "msg_bench", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }  # fmt: skip
    response = {
        "id": "resp_bench", "object": "response", "created_at": 1700000000,
        "model": "gpt-bench", "status": "completed", "output": [item],
        "usage": {"input_tokens": 120, "output_tokens": 16, "total_tokens": 136},
    }  # fmt: skip
    events = [
        _event("response.created", {"response": {**response, "output": [], "usage": None}}),
        _event("response.output_item.added", {"output_index": 0, "item": {**item, "content": []}}),
    ]
    delta: Callable[[str], bytes] = lambda p: _event(  # noqa: E731
        "response.output_text.delta", {"output_index": 0, "content_index": 0, "delta": p}
    )
    events += [delta(p) for p in _pieces(text, chunks)]
    events += [
        _event("response.output_item.done", {"output_index": 0, "item": item}),
        _event("response.completed", {"response": response}),
    ]
    return json.dumps(response).encode(), events
