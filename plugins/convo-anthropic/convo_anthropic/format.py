"""Anthropic's Messages API as a :class:`~convo.transports.formats.WireFormat` (no I/O).

The core builds Chat Completions bodies; this module translates them:

* ``system`` / ``developer`` messages become the top-level ``system`` field;
* an assistant's ``tool_calls`` become ``tool_use`` blocks, ``tool`` messages
  ``tool_result`` blocks in a user turn (consecutive results share one turn, as the
  API requires alternating roles);
* ``max_tokens`` is always sent: the body's ``max_tokens`` or
  ``max_completion_tokens``, else :data:`DEFAULT_MAX_TOKENS`;
* OpenAI-only parameters (``n``, penalties, ``seed``, ``stream_options``...) are not sent.

Replies and the named stream events come back as Chat Completions replies and chunks.

>>> from convo.messages import Message
>>> from convo.request import Request
>>> body = {"model": "claude-x", "messages": [{"role": "system", "content": "Be brief."},
...         {"role": "user", "content": "Hi"}]}
>>> out = AnthropicFormat().encode(Request("claude-x", (), body), stream=False)
>>> out["system"], out["max_tokens"], out["messages"]
('Be brief.', 4096, [{'role': 'user', 'content': 'Hi'}])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from convo.errors import IncompleteStreamError, ProtocolError
from convo.reply import Reply
from convo.request import Request
from convo.transports.base import Chunk
from convo.transports.formats import EventTranslator, WireFormat, event_json
from convo.transports.sse import ServerSentEvent
from convo.wire import parse_completion, snippet

__all__ = ["API_VERSION", "DEFAULT_MAX_TOKENS", "STOP_REASONS", "AnthropicFormat"]

API_VERSION = "2023-06-01"
"""The ``anthropic-version`` header sent."""
DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when the conversation sets none (the API requires one)."""

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
"""Anthropic's ``stop_reason`` -> Chat Completions' ``finish_reason``."""

_PASSED = ("temperature", "top_p", "top_k", "metadata")


class AnthropicFormat(WireFormat):
    path = "/v1/messages"
    key_header = "x-api-key"
    # Anthropic has no response_format: structured output goes through a forced tool.
    structured_output = "tools"

    def headers(self) -> dict[str, str]:
        return {"anthropic-version": API_VERSION}

    def encode(self, request: Request, *, stream: bool) -> dict[str, Any]:
        body = request.payload  # read only: what is built below is new
        model = str(body.get("model", request.model))
        out: dict[str, Any] = {
            "model": model.removeprefix("anthropic:"),
            "max_tokens": body.get("max_tokens")
            or body.get("max_completion_tokens")
            or DEFAULT_MAX_TOKENS,
        }
        system, messages = _messages(body.get("messages") or ())
        out["messages"] = messages
        if system:
            out["system"] = system
        for key in _PASSED:
            if body.get(key) is not None:
                out[key] = body[key]
        stop = body.get("stop")
        if stop:
            out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        tools = body.get("tools")
        if tools:
            out["tools"] = [_tool(t) for t in tools]
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None and tools:
            out["tool_choice"] = choice
        if stream:
            out["stream"] = True
        return out

    def reply(self, data: Any, *, request_id: str | None) -> Reply:
        if not isinstance(data, Mapping) or not isinstance(data.get("content"), list):
            raise ProtocolError("not an Anthropic message (no content)", snippet=snippet(data))
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in data["content"]:
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_use":
                calls.append(_call(block))
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
        if calls:
            message["tool_calls"] = calls
            if not texts:
                message["content"] = None
        completion = {
            "id": data.get("id"),
            "model": data.get("model"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": _finish(data.get("stop_reason"))}
            ],
            "usage": _usage(data.get("usage")),
        }
        return parse_completion(completion, request_id=request_id)

    def events(self) -> EventTranslator:
        return _Events()


class _Events(EventTranslator):
    """``message_start`` ... ``message_stop`` -> chunks; state for one stream."""

    def __init__(self) -> None:
        self.head: dict[str, Any] = {"object": "chat.completion.chunk"}
        self.calls: dict[int, int] = {}  # content block index -> tool call index
        self.input_tokens = 0
        self.done = False

    def _chunk(self, delta: dict[str, Any], reason: str | None = None) -> Chunk:
        return {**self.head, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}

    def feed(self, event: ServerSentEvent) -> list[Chunk]:
        kind = event.event
        if kind in ("ping", "message") and not event.data.strip():
            return []
        if kind == "ping" or self.done:
            return []
        data = event_json(event)
        kind = data.get("type", kind)
        if kind == "message_start":
            message = data.get("message") or {}
            self.head = {**self.head, "id": message.get("id"), "model": message.get("model")}
            self.input_tokens = _input_tokens(message.get("usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                k = self.calls[data.get("index", 0)] = len(self.calls)
                first = {
                    "index": k,
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""},
                }
                return [self._chunk({"tool_calls": [first]})]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            return []
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "input_json_delta":
                call = self.calls.get(data.get("index", 0))
                if call is None:
                    raise ProtocolError("input_json_delta outside a tool_use block")
                piece = delta.get("partial_json", "")
                return [
                    self._chunk({"tool_calls": [{"index": call, "function": {"arguments": piece}}]})
                ]
            return []  # thinking and signature deltas are not part of the reply's text
        if kind == "message_delta":
            delta = data.get("delta") or {}
            output = (data.get("usage") or {}).get("output_tokens") or 0
            chunk = self._chunk({}, _finish(delta.get("stop_reason")))
            chunk["usage"] = {
                "prompt_tokens": self.input_tokens,
                "completion_tokens": output,
                "total_tokens": self.input_tokens + output,
            }
            return [chunk]
        if kind == "message_stop":
            self.done = True
        return []

    def finish(self) -> list[Chunk]:
        if not self.done:
            raise IncompleteStreamError("the stream ended before message_stop")
        return []


def _finish(reason: Any) -> str:
    return STOP_REASONS.get(str(reason), "stop") if reason else "stop"


def _input_tokens(usage: Any) -> int:
    if not isinstance(usage, Mapping):
        return 0
    # Cached prompt tokens are prompt tokens too, counted apart by the API.
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(int(usage.get(k) or 0) for k in keys)


def _usage(usage: Any) -> dict[str, int] | None:
    if not isinstance(usage, Mapping):
        return None
    prompt, completion = _input_tokens(usage), int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _call(block: Mapping[str, Any]) -> dict[str, Any]:
    arguments = block.get("input")
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {
            "name": block.get("name"),
            "arguments": orjson.dumps(arguments if arguments is not None else {}).decode(),
        },
    }


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or () if isinstance(p, Mapping))


def _blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    out: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            out.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            out.append({"type": "image", "source": _image_source(url)})
    return out


def _image_source(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        media, _, data = url[5:].partition(";base64,")
        return {"type": "base64", "media_type": media, "data": data}
    return {"type": "url", "url": url}


def _arguments(text: str) -> Any:
    try:
        return orjson.loads(text) if text else {}
    except ValueError:
        # The API takes an object only; a model's broken arguments are kept, not lost.
        return {"_raw": text}


def _messages(wire: Any) -> tuple[str, list[dict[str, Any]]]:
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            last = out[-1]
            if isinstance(last["content"], str):
                last["content"] = [{"type": "text", "text": last["content"]}]
            last["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in wire:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(_text(m.get("content")))
        elif role == "user":
            content = m.get("content")
            if isinstance(content, str) and not (out and out[-1]["role"] == "user"):
                out.append({"role": "user", "content": content})
            else:
                add("user", _blocks(content))
        elif role == "assistant":
            blocks = _blocks(m.get("content"))
            for call in m.get("tool_calls") or ():
                fn = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": fn.get("name"),
                        "input": _arguments(fn.get("arguments", "")),
                    }
                )
            add("assistant", blocks or [{"type": "text", "text": ""}])
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": m.get("tool_call_id"),
                "content": _text(m.get("content")),
            }
            add("user", [result])
    return "\n\n".join(s for s in system if s), out


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    fn = tool.get("function") or {}
    out: dict[str, Any] = {
        "name": fn.get("name"),
        "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
    }
    if fn.get("description"):
        out["description"] = fn["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None
    if choice is None:
        out = None if parallel is not False else {"type": "auto"}
    elif choice == "auto":
        out = {"type": "auto"}
    elif choice == "none":
        out = {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        out = {"type": "tool", "name": name}
    else:
        out = None
    if out is not None and parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out
