"""OpenAI's Responses API (``POST {base_url}/responses``), stateless, as a transport.

convo keeps the history, so every request sends it whole as input items with
``store: false``: messages as ``message`` items, an assistant's tool calls as
``function_call`` items and tool results as ``function_call_output`` items. Replies
and the named stream events (``response.created``, ``response.output_text.delta``,
``response.function_call_arguments.delta``, ``response.completed``...) come back
as Chat Completions replies and chunks.

A ``reasoning`` output item is kept on the assistant message it came with
(:class:`~convo.messages.Reasoning`) and sent back before that message in later
requests, where the server needs it (a tool round of a reasoning model). A stateless
request can only send back reasoning with its encrypted content, so a request with a
``reasoning`` parameter asks for it (``include: ["reasoning.encrypted_content"]``)
unless it sets ``include`` itself; the summary text is the reply's ``reasoning``.

>>> from convo.request import Request
>>> body = {"model": "gpt-5", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 9}
>>> out = ResponsesFormat().encode(Request("gpt-5", (), body), stream=False)
>>> out["input"], out["store"], out["max_output_tokens"]
([{'type': 'message', 'role': 'user', 'content': 'Hi'}], False, 9)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import httpx2

from convo.errors import IncompleteStreamError, ProtocolError, StreamError
from convo.messages import Message
from convo.reply import Reply
from convo.request import Request
from convo.transports.base import Chunk
from convo.transports.formats import (
    DEFAULT_TIMEOUT,
    EventTranslator,
    FormatTransport,
    WireFormat,
    event_json,
)
from convo.transports.sse import ServerSentEvent
from convo.wire import parse_completion, snippet

__all__ = ["ResponsesFormat", "ResponsesTransport"]

_PASSED = (
    "temperature",
    "top_p",
    "parallel_tool_calls",
    "user",
    "metadata",
    "reasoning",
    "include",
)
# What a stateless request must ask for to get reasoning it can send back: a reasoning
# item without its encrypted content names server state that store=false never kept.
_ENCRYPTED = "reasoning.encrypted_content"
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


class ResponsesFormat(WireFormat):
    path = "/responses"

    def encode(self, request: Request, *, stream: bool) -> dict[str, Any]:
        body = request.payload
        model = str(body.get("model", request.model))
        out: dict[str, Any] = {
            # The prefix that selects this transport (``responses:gpt-4.1``) is not the model's.
            "model": model.removeprefix("responses:"),
            "input": _input(body.get("messages") or (), request.messages),
            "store": False,
        }
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit:
            out["max_output_tokens"] = limit
        for key in _PASSED:
            if body.get(key) is not None:
                out[key] = body[key]
        if "reasoning" in out and "include" not in out:
            out["include"] = [_ENCRYPTED]
        if body.get("tools"):
            out["tools"] = [_tool(t) for t in body["tools"]]
            choice = body.get("tool_choice")
            if isinstance(choice, Mapping):
                choice = {"type": "function", "name": (choice.get("function") or {}).get("name")}
            if choice is not None:
                out["tool_choice"] = choice
        text = _text_format(body.get("response_format"))
        if text is not None:
            out["text"] = {"format": text}
        if stream:
            out["stream"] = True
        return out

    def reply(self, data: Any, *, request_id: str | None) -> Reply:
        if not isinstance(data, Mapping) or not isinstance(data.get("output"), list):
            raise ProtocolError("not a response (no output)", snippet=snippet(data))
        texts: list[str] = []
        refusals: list[str] = []
        calls: list[dict[str, Any]] = []
        thoughts: list[dict[str, Any]] = []
        for item in data["output"]:
            if not isinstance(item, Mapping):
                continue
            if item.get("type") == "reasoning":
                thoughts.append(_reasoning(item))
            elif item.get("type") == "message":
                for part in item.get("content") or ():
                    if part.get("type") == "output_text":
                        texts.append(str(part.get("text") or ""))
                    elif part.get("type") == "refusal":
                        refusals.append(str(part.get("refusal") or ""))
            elif item.get("type") == "function_call":
                calls.append(
                    {
                        "id": item.get("call_id"),
                        "type": "function",
                        "function": {
                            "name": item.get("name"),
                            "arguments": item.get("arguments") or "",
                        },
                    }
                )
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(texts) if texts or not calls else None,
        }
        if calls:
            message["tool_calls"] = calls
        if refusals:
            message["refusal"] = "".join(refusals)
        if thoughts:
            message["reasoning_items"] = thoughts
            text = "\n\n".join(t["text"] for t in thoughts if t["text"])
            if text:
                message["reasoning_content"] = text
        completion = {
            "id": data.get("id"),
            "model": data.get("model"),
            "created": data.get("created_at"),
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(data, calls)}],
            "usage": _usage(data.get("usage")),
        }
        return parse_completion(completion, request_id=request_id)

    def events(self) -> EventTranslator:
        return _Events()


class ResponsesTransport(FormatTransport):
    """Talks to ``{base_url}/responses``; ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` as
    the Chat Completions transport reads them.

    Example::

        with ResponsesTransport("http://localhost:8080/v1") as transport:
            conv = Conversation("Be brief.", model="gpt-5", transport=transport)
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx2.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        if api_key is None:
            api_key = os.environ.get("OPENAI_API_KEY") or None
        super().__init__(
            ResponsesFormat(),
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
        )


class _Events(EventTranslator):
    def __init__(self) -> None:
        self.head: dict[str, Any] = {"object": "chat.completion.chunk"}
        self.calls: dict[Any, int] = {}  # output index -> tool call index
        self.argued: set[int] = set()  # tool calls whose arguments arrived as deltas
        self.has_calls = False
        self.done = False
        self.summary: tuple[Any, Any] | None = None  # the (item, part) reasoning is read from

    def _chunk(self, delta: dict[str, Any], reason: str | None = None) -> Chunk:
        return {**self.head, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}

    def _args(self, k: int, text: str) -> Chunk:
        return self._chunk({"tool_calls": [{"index": k, "function": {"arguments": text}}]})

    def feed(self, event: ServerSentEvent) -> list[Chunk]:
        if self.done or not event.data.strip():
            return []
        data = event_json(event)
        kind = data.get("type") or event.event
        if kind == "response.created":
            response = data.get("response") or {}
            self.head = {**self.head, "id": response.get("id"), "model": response.get("model")}
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "response.output_text.delta":
            return [self._chunk({"content": data.get("delta", "")})]
        if kind == "response.refusal.delta":
            return [self._chunk({"refusal": data.get("delta", "")})]
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            # Parts of a summary are joined as a reply's are: by a blank line.
            part = (data.get("output_index"), data.get("summary_index", data.get("content_index")))
            gap = "\n\n" if self.summary is not None and self.summary != part else ""
            self.summary = part
            return [self._chunk({"reasoning": gap + str(data.get("delta") or "")})]
        if kind == "response.output_item.added":
            item = data.get("item") or {}
            if item.get("type") != "function_call":
                return []
            k = self.calls[data.get("output_index")] = len(self.calls)
            first = {
                "index": k,
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": ""},
            }
            out = [self._chunk({"tool_calls": [first]})]
            if item.get("arguments"):
                self.argued.add(k)
                out.append(self._args(k, item["arguments"]))
            return out
        if kind == "response.function_call_arguments.delta":
            index = self.calls.get(data.get("output_index"))
            if index is None:
                raise ProtocolError("function call arguments for no function_call item")
            self.argued.add(index)
            return [self._args(index, data.get("delta", ""))]
        if kind == "response.output_item.done":
            item = data.get("item") or {}
            if item.get("type") == "reasoning":
                return [self._chunk({"reasoning_items": [_reasoning(item)]})]
            done = self.calls.get(data.get("output_index"))
            # A server that sends the arguments only whole, with the finished item.
            if done is not None and done not in self.argued and item.get("arguments"):
                self.argued.add(done)
                return [self._args(done, item["arguments"])]
            return []
        if kind in ("response.completed", "response.incomplete"):
            self.done = True
            response = data.get("response") or {}
            chunk = self._chunk({}, _finish(response, self.calls))
            usage = _usage(response.get("usage"))
            if usage is not None:
                chunk["usage"] = usage
            return [chunk]
        if kind == "response.failed":
            error = (data.get("response") or {}).get("error") or {}
            raise StreamError(
                f"the server reported an error mid-stream: {error.get('message') or 'failed'}",
                code=None if error.get("code") is None else str(error.get("code")),
            )
        return []

    def finish(self) -> list[Chunk]:
        if not self.done:
            raise IncompleteStreamError("the stream ended before response.completed")
        return []


def _finish(response: Mapping[str, Any], calls: Any) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return _INCOMPLETE.get(str(reason), "length")
    return "tool_calls" if calls else "stop"


def _usage(usage: Any) -> dict[str, int] | None:
    if not isinstance(usage, Mapping):
        return None
    prompt = int(usage.get("input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def _content(content: Any, role: str) -> Any:
    if content is None or isinstance(content, str):
        return content or ""
    kind = "output_text" if role == "assistant" else "input_text"
    out: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            out.append({"type": kind, "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            image = part.get("image_url") or {}
            out.append({"type": "input_image", "image_url": image.get("url", "")})
    return out


def _reasoning(item: Mapping[str, Any]) -> dict[str, Any]:
    """A ``reasoning`` output item as a :class:`~convo.messages.Reasoning`'s fields."""
    parts = item.get("summary") or item.get("content") or ()
    text = "\n\n".join(str(p.get("text") or "") for p in parts if isinstance(p, Mapping))
    return {
        "format": "responses",
        "id": item.get("id"),
        "text": text,
        "encrypted": item.get("encrypted_content"),
    }


def _sent_back(message: Message, wire: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reasoning items to send before ``wire``: those of the message it was made
    from, when it is still that message (same role and tool calls), and only the
    encrypted kind (a stateless request cannot name reasoning the server never kept)."""
    if (
        not message.reasoning_items
        or wire.get("role") != "assistant"
        or [c.get("id") for c in wire.get("tool_calls") or ()]
        != [c.id for c in message.tool_calls or ()]
    ):
        return []
    return [
        {
            "type": "reasoning",
            **({"id": r.id} if r.id else {}),
            "summary": [{"type": "summary_text", "text": r.text}] if r.text else [],
            "encrypted_content": r.encrypted,
        }
        for r in message.reasoning_items
        if r.format == "responses" and r.encrypted
    ]


def _input(wire: Any, messages: Sequence[Message] = ()) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    aligned = len(messages) == len(wire)
    for i, m in enumerate(wire):
        role = m.get("role")
        if aligned and role == "assistant":
            items.extend(_sent_back(messages[i], m))
        if role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": m.get("tool_call_id"),
                    "output": m.get("content") if isinstance(m.get("content"), str) else "",
                }
            )
            continue
        content = _content(m.get("content"), role)
        if content or not m.get("tool_calls"):
            items.append({"type": "message", "role": role, "content": content})
        for call in m.get("tool_calls") or ():
            fn = call.get("function") or {}
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id"),
                    "name": fn.get("name"),
                    "arguments": fn.get("arguments", ""),
                }
            )
    return items


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    fn = tool.get("function") or {}
    out: dict[str, Any] = {"type": "function", "name": fn.get("name")}
    if fn.get("description"):
        out["description"] = fn["description"]
    out["parameters"] = fn.get("parameters") or {"type": "object", "properties": {}}
    if fn.get("strict") is not None:
        out["strict"] = fn["strict"]
    return out


def _text_format(fmt: Any) -> dict[str, Any] | None:
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") == "json_schema":
        schema = fmt.get("json_schema") or {}
        return {"type": "json_schema", **schema}
    if fmt.get("type") in ("json_object", "text"):
        return {"type": fmt["type"]}
    return None
