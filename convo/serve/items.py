"""Responses-API items and convo messages, both ways.

>>> [m.role for m in to_messages("Hi")]
['user']
>>> out = to_messages([{"type": "function_call_output", "call_id": "c1", "output": "18"}])
>>> out[0].role, out[0].tool_call_id
('tool', 'c1')
>>> to_items([Message.assistant("Hello")], "r1")[0]["content"][0]["text"]
'Hello'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convo.messages import FunctionCall, Message, ToolCall
from convo.serve.errors import ApiError

__all__ = ["chat_tools", "to_items", "to_messages"]

_ROLES = ("user", "assistant", "system", "developer")


def _text(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ApiError(400, f"{where}: content must be text or a list of parts", param="input")
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
        else:
            raise ApiError(400, f"{where}: unsupported content part {kind!r}", param="input")
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def to_messages(value: Any) -> list[Message]:
    """A request's ``input`` (text, or a list of items) as messages."""
    if isinstance(value, str):
        return [Message.user(value)]
    if not isinstance(value, list) or not value:
        raise ApiError(400, "input must be text or a non-empty list of items", param="input")
    out: list[Message] = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where} must be an object", param="input")
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") in _ROLES:
            out.append(Message(role=item["role"], content=_text(item.get("content"), where)))
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else _text(output, where)
            out.append(Message.tool(str(text), tool_call_id=str(item.get("call_id"))))
        elif kind == "function_call":
            call = ToolCall(
                id=str(item.get("call_id")),
                function=FunctionCall(
                    name=str(item.get("name")), arguments=item.get("arguments", "")
                ),
            )
            if out and out[-1].role == "assistant" and out[-1].tool_calls:
                last = out.pop()
                # model_copy does not validate: the field's own type (a tuple), or the
                # message cannot be serialized without a warning.
                calls = (*(last.tool_calls or ()), call)
                out.append(last.model_copy(update={"tool_calls": calls}))
            else:
                out.append(Message(role="assistant", content=None, tool_calls=[call]))
        else:
            raise ApiError(400, f"{where}: unsupported item type {kind!r}", param="input")
    return out


def to_items(messages: Sequence[Message], rid: str) -> list[dict[str, Any]]:
    """Messages as Responses-API items (ids derived from the response's id and position)."""
    items: list[dict[str, Any]] = []
    for n, m in enumerate(messages):
        base = f"{rid}-{n}"
        if m.role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "id": f"fco_{base}",
                    "call_id": m.tool_call_id,
                    "output": m.text,
                    "status": "completed",
                }
            )
            continue
        if m.role != "assistant" or m.text or not m.tool_calls:
            kind = "output_text" if m.role == "assistant" else "input_text"
            part: dict[str, Any] = {"type": kind, "text": m.text}
            if kind == "output_text":
                part["annotations"] = []
            items.append(
                {
                    "type": "message",
                    "id": f"msg_{base}",
                    "status": "completed",
                    "role": m.role,
                    "content": [part],
                }
            )
        for k, call in enumerate(m.tool_calls or ()):
            items.append(
                {
                    "type": "function_call",
                    "id": f"fc_{base}-{k}",
                    "call_id": call.id,
                    "name": call.function.name,
                    "arguments": call.function.arguments,
                    "status": "completed",
                }
            )
    return items


def chat_tools(tools: Any) -> list[dict[str, Any]] | None:
    """Responses function tools (flat) in the Chat Completions shape convo speaks."""
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise ApiError(400, "tools must be a list", param="tools")
    out = []
    for t in tools:
        if not isinstance(t, dict) or t.get("type") != "function" or not t.get("name"):
            raise ApiError(400, "only function tools are supported", param="tools")
        fn = {k: t[k] for k in ("name", "description", "parameters", "strict") if k in t}
        out.append({"type": "function", "function": fn})
    return out or None
