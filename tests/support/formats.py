"""The test server's other wire formats: Anthropic Messages and OpenAI Responses.

:class:`~tests.support.chatserver.ChatServer` routes ``POST .../messages`` and
``POST .../responses`` here. An :class:`~tests.support.chatserver.Answer` renders in
either format (JSON, or the format's named events when ``stream`` is set), from the
same first choice the Chat Completions route would send; the faults (``Respond``,
``Events``, ``Drop``...) are format-free and work on every route.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["anthropic_error", "chat_view", "kind_of", "refusal", "render"]

_ENCRYPTED = "reasoning.encrypted_content"


def kind_of(path: str) -> str | None:
    """Which format a request path speaks: ``"chat"``, ``"anthropic"``, ``"responses"``."""
    path = path.partition("?")[0].rstrip("/")
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/messages"):
        return "anthropic"
    if path.endswith("/responses"):
        return "responses"
    return None


def anthropic_error(status: int, type: str, message: str, **kw: Any) -> Any:
    """An Anthropic error response (``overloaded_error`` is their 529)."""
    from tests.support.chatserver import Respond

    body = {"type": "error", "error": {"type": type, "message": message}}
    return Respond(status, body, **kw)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    return ""


def chat_view(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The request as a Chat Completions body with text messages, for the default answer."""
    if kind == "chat":
        return dict(body)
    if kind == "anthropic":
        messages = [
            {"role": m.get("role"), "content": _text(m.get("content"))}
            for m in body.get("messages") or ()
        ]
        if body.get("system"):
            messages.insert(0, {"role": "system", "content": _text(body["system"])})
        limit = body.get("max_tokens")
    else:
        items = body.get("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        messages = [
            {"role": m.get("role"), "content": _text(m.get("content"))}
            for m in items or ()
            if m.get("type", "message") == "message"
        ]
        limit = body.get("max_output_tokens")
    return {"model": body.get("model"), "messages": messages, "max_tokens": limit}


def _event(name: str, data: Mapping[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"


def refusal(kind: str, raw: Mapping[str, Any]) -> Any:
    """The error OpenAI answers a stateless request that names reasoning it never kept
    (a ``reasoning`` input item without ``encrypted_content``), else None."""
    from tests.support.chatserver import error

    if kind != "responses" or raw.get("store") is not False:
        return None
    for item in raw.get("input") or ():
        stale = isinstance(item, Mapping) and item.get("type") == "reasoning"
        if stale and not item.get("encrypted_content"):
            return error(
                404,
                f"Item with id '{item.get('id')}' not found. Items are not persisted "
                "when `store` is set to false.",
                type="invalid_request_error",
            )
    return None


def render(kind: str, rendered: Any, raw: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """``(json_body, events)`` for the renderer's first choice in this format."""
    text, calls, reason = rendered.choices[0]
    usage = rendered.usage
    stream = raw.get("stream") is True
    if kind == "anthropic":
        return _anthropic(rendered, text, calls, reason, usage, stream)
    encrypted = _ENCRYPTED in (raw.get("include") or ())
    return _responses(rendered, text, calls, reason, usage, stream, encrypted)


_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _anthropic(r: Any, text: Any, calls: Any, reason: str, usage: Any, stream: bool) -> Any:
    blocks: list[dict[str, Any]] = []
    if text:
        blocks.append({"type": "text", "text": text})
    for call in calls:
        args = call["function"]["arguments"]
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"].replace("call", "toolu"),
                "name": call["function"]["name"],
                "input": json.loads(args or "{}"),
            }
        )
    stop = _STOP.get(reason, reason)
    msg_id = r.id.replace("chatcmpl", "msg")
    if not stream:
        return {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": r.model,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
            },
        }, []
    start = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": r.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": 1},
    }
    events = [_event("message_start", {"message": start}), _event("ping", {})]
    for i, block in enumerate(blocks):
        if block["type"] == "text":
            events.append(
                _event(
                    "content_block_start",
                    {"index": i, "content_block": {"type": "text", "text": ""}},
                )
            )
            words = block["text"].split(" ")
            pieces = [w + " " for w in words[:-1]] + [words[-1]]
            events.extend(
                _event(
                    "content_block_delta", {"index": i, "delta": {"type": "text_delta", "text": p}}
                )
                for p in pieces
            )
        else:
            events.append(
                _event("content_block_start", {"index": i, "content_block": {**block, "input": {}}})
            )
            args = json.dumps(block["input"])
            half = len(args) // 2
            events.extend(
                _event(
                    "content_block_delta",
                    {"index": i, "delta": {"type": "input_json_delta", "partial_json": p}},
                )
                for p in (args[:half], args[half:])
            )
        events.append(_event("content_block_stop", {"index": i}))
    events.append(
        _event(
            "message_delta",
            {
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["completion_tokens"]},
            },
        )
    )
    events.append(_event("message_stop", {}))
    return None, events


def _responses(
    r: Any, text: Any, calls: Any, reason: str, usage: Any, stream: bool, encrypted: bool
) -> Any:
    resp_id = r.id.replace("chatcmpl", "resp")
    output: list[dict[str, Any]] = []
    if r.reasoning is not None:
        thought: dict[str, Any] = {
            "type": "reasoning",
            "id": f"rs_{resp_id}",
            "summary": [
                {"type": "summary_text", "text": part} for part in r.reasoning.split("\n\n")
            ],
        }
        if encrypted:
            thought["encrypted_content"] = "enc:" + r.reasoning[::-1]
        output.append(thought)
    if text is not None and (text or not calls):
        output.append(
            {
                "type": "message",
                "id": f"msg_{resp_id}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    for call in calls:
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{call['id']}",
                "call_id": call["id"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
                "status": "completed",
            }
        )
    status = "incomplete" if reason == "length" else "completed"
    response = {
        "id": resp_id,
        "object": "response",
        "created_at": 1700000000,
        "model": r.model,
        "status": status,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "output": output,
        "usage": {
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"],
        },
    }
    if not stream:
        return response, []
    events = [
        _event(
            "response.created",
            {"response": {**response, "status": "in_progress", "output": [], "usage": None}},
        )
    ]
    for n, item in enumerate(output):
        if item["type"] == "reasoning":
            events.append(
                _event(
                    "response.output_item.added",
                    {"output_index": n, "item": {**item, "summary": []}},
                )
            )
            events.extend(
                _event(
                    "response.reasoning_summary_text.delta",
                    {"output_index": n, "summary_index": k, "item_id": item["id"], "delta": p},
                )
                for k, part in enumerate(item["summary"])
                for p in (part["text"][:3], part["text"][3:])
            )
        elif item["type"] == "message":
            events.append(
                _event(
                    "response.output_item.added",
                    {"output_index": n, "item": {**item, "content": [], "status": "in_progress"}},
                )
            )
            words = item["content"][0]["text"].split(" ")
            pieces = [w + " " for w in words[:-1]] + [words[-1]]
            events.extend(
                _event(
                    "response.output_text.delta",
                    {"output_index": n, "content_index": 0, "item_id": item["id"], "delta": p},
                )
                for p in pieces
            )
        else:
            events.append(
                _event(
                    "response.output_item.added",
                    {"output_index": n, "item": {**item, "arguments": "", "status": "in_progress"}},
                )
            )
            args = item["arguments"]
            half = len(args) // 2
            events.extend(
                _event(
                    "response.function_call_arguments.delta",
                    {"output_index": n, "item_id": item["id"], "delta": p},
                )
                for p in (args[:half], args[half:])
            )
        events.append(_event("response.output_item.done", {"output_index": n, "item": item}))
    name = "response.incomplete" if status == "incomplete" else "response.completed"
    events.append(_event(name, {"response": response}))
    return None, events
