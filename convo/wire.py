"""The Chat Completions wire format: where convo's values meet the API's JSON.

Everything that depends on how servers spell things lives here, including the
differences between real servers that claim the same API. Each rule names the
server that needs it and has a test in ``tests/test_wire.py``:

* **tool_choice "auto"** - llama.cpp's OpenAI server offers the tools to the model
  only when the request says ``tool_choice`` explicitly; OpenAI treats a missing
  ``tool_choice`` as ``"auto"``, so sending it changes nothing there.
* **content "" on assistant tool calls** - llama.cpp rejects ``"content": null`` on an
  assistant message with ``tool_calls``, and leaving the key out breaks its chat
  template; ``""`` works everywhere.
* **null content in replies** - servers answer ``"content": null`` for a cut-off or
  empty reply; convo reads it as ``""`` so the message stays valid.

>>> from convo.messages import Message, ToolCall, FunctionCall
>>> call = ToolCall(id="c1", function=FunctionCall(name="f", arguments="{}"))
>>> message_to_wire(Message.assistant(tool_calls=[call]))["content"]
''
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pydantic

from convo.errors import ProtocolError
from convo.messages import Message
from convo.reply import Choice, Reply, Usage

__all__ = [
    "build_body",
    "max_tokens_field",
    "message_from_wire",
    "message_to_wire",
    "parse_completion",
    "reasoning_of",
    "snippet",
]

# Reasoning models refuse ``max_tokens`` (400 "Unsupported parameter"): they take
# ``max_completion_tokens``, which every current OpenAI model accepts.
_COMPLETION_TOKENS_MODELS = ("o1", "o3", "o4", "gpt-5", "codex-")


def max_tokens_field(model: str) -> str:
    """The body field that caps the reply's tokens for ``model``.

    >>> max_tokens_field("gpt-4o-mini"), max_tokens_field("o3-mini"), max_tokens_field("gpt-5")
    ('max_tokens', 'max_completion_tokens', 'max_completion_tokens')
    """
    name = model.rsplit("/", 1)[-1].strip().lower()
    if name.startswith(_COMPLETION_TOKENS_MODELS):
        return "max_completion_tokens"
    return "max_tokens"


def message_to_wire(message: Message) -> dict[str, Any]:
    """The message as the API's JSON object; computed once per (frozen) message."""
    # Read the private cache through the dict: pydantic's attribute path for private
    # attributes costs ~2 us a read, most of the time it takes to build a request.
    private = message.__pydantic_private__
    if private is None:
        private = message._cache()
    cached: dict[str, Any] | None = private["_wire"]
    if cached is not None:
        return cached
    wire: dict[str, Any] = {"role": message.role}
    content = message.content
    if content is None:
        content = ""  # llama.cpp: never null, never absent (see the module docstring)
    if isinstance(content, str):
        wire["content"] = content
    else:
        wire["content"] = [p.model_dump(exclude_none=True) for p in content]
    if message.name is not None:
        wire["name"] = message.name
    if message.tool_calls:
        wire["tool_calls"] = [
            {
                "id": c.id,
                "type": c.type,
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    if message.refusal is not None and message.role == "assistant":
        wire["refusal"] = message.refusal
    private["_wire"] = wire
    return wire


def build_body(
    model: str,
    messages: Iterable[Message],
    params: Mapping[str, Any],
    tools: Sequence[Mapping[str, Any]] = (),
    *,
    stream: bool = False,
    wire: list[dict[str, Any]] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    stream_usage: bool = True,
    fresh: bool = True,
) -> dict[str, Any]:
    """The request payload: model, messages, every parameter, then ``extra_body``.

    ``wire``, if given, is ``messages`` already in the API's shape (see
    :meth:`convo.budget.History.wire`). The body is the caller's alone: no dict or list
    in it is shared with a message's cached wire form, a tool schema or ``params``, so
    editing it in place changes no other request. With ``fresh=False`` the top-level
    dict and the message list are new but what they hold is shared, to be read only
    (:meth:`convo.Request.shared` copies it for whoever edits it; see
    :func:`fresh_body`).

    >>> m = Message.user("hi")
    >>> build_body("m", [m], {})["messages"][0]["content"] = "changed"
    >>> build_body("m", [m], {})["messages"][0]["content"]
    'hi'
    """
    messages_wire = [message_to_wire(m) for m in messages] if wire is None else list(wire)
    body: dict[str, Any] = {"model": model, "messages": messages_wire}
    body.update(params)
    if tools:
        body["tools"] = list(tools)
        body.setdefault("tool_choice", "auto")  # llama.cpp (see the module docstring)
    if stream:
        body["stream"] = True
        if stream_usage:
            # Usage in the last chunk; a transport whose server refuses the option says so.
            body.setdefault("stream_options", {"include_usage": True})
    if extra_body:
        body.update(extra_body)
    return fresh_body(body) if fresh else body


def fresh_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a body's containers: nothing in it is shared with ``body``.

    >>> wire = {"role": "user", "content": "hi"}
    >>> fresh_body({"messages": [wire]})["messages"][0] is wire
    False
    """
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "messages" and type(value) is list:
            # A flat message (text content, no tool calls: most of a history) needs one
            # C-level dict copy; only the others are walked (measured: a call per
            # message was most of a long history's request-building time).
            out[key] = [
                w.copy()
                if type(w) is dict and "tool_calls" not in w and type(w.get("content")) is str
                else _deep(w)
                for w in value
            ]
        else:
            out[key] = _deep(value)
    return out


def _deep(value: Any) -> Any:
    """A copy of a JSON value's containers (the leaves are immutable)."""
    kind = type(value)
    if kind is dict:
        return {k: _deep(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_deep(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _deep(v) for k, v in value.items()}
    return value


def message_from_wire(data: Mapping[str, Any]) -> Message:
    """An assistant message from a reply's ``message`` object."""
    fields: dict[str, Any] = {"role": data.get("role") or "assistant"}
    content = data.get("content")
    tool_calls = data.get("tool_calls") or None
    refusal = data.get("refusal")
    if content is None and not tool_calls and not refusal:
        content = ""  # a cut-off or empty reply (see the module docstring)
    fields["content"] = content
    if tool_calls:
        fields["tool_calls"] = [
            {"id": c.get("id"), "type": "function", "function": c.get("function")}
            for c in tool_calls
        ]
    if refusal:
        fields["refusal"] = refusal
    if data.get("name"):
        fields["name"] = data["name"]
    if data.get("reasoning_items"):
        # convo's name for the reasoning a format's server returned (see Reasoning).
        fields["reasoning_items"] = data["reasoning_items"]
    try:
        return Message.model_validate(fields)
    except (pydantic.ValidationError, ValueError) as exc:
        raise ProtocolError(
            f"the reply's message is invalid ({exc})", snippet=snippet(data)
        ) from None


def parse_completion(
    data: Any, *, request_id: str | None = None, headers: Mapping[str, str] | None = None
) -> Reply:
    """A :class:`Reply` from a ``chat.completion`` JSON object (``request_id`` and the
    response's ``headers`` as the transport read them)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("choices"), list):
        raise ProtocolError("not a chat completion (no choices)", snippet=snippet(data))
    choices = []
    for i, c in enumerate(data["choices"]):
        if not isinstance(c, Mapping) or not isinstance(c.get("message"), Mapping):
            raise ProtocolError(f"choice {i} has no message", snippet=snippet(data))
        choices.append(
            Choice(
                index=c.get("index", i),
                message=message_from_wire(c["message"]),
                finish_reason=c.get("finish_reason"),
                logprobs=c.get("logprobs"),
                reasoning=reasoning_of(c["message"]),
            )
        )
    if not choices:
        raise ProtocolError("the completion has no choices", snippet=snippet(data))
    usage = data.get("usage")
    return Reply(
        choices=tuple(choices),
        usage=Usage.model_validate(usage) if isinstance(usage, Mapping) else None,
        id=data.get("id"),
        model=data.get("model"),
        created=data.get("created"),
        system_fingerprint=data.get("system_fingerprint"),
        service_tier=_text(data.get("service_tier")),
        request_id=request_id,
        headers=headers,
    )


def reasoning_of(message: Mapping[str, Any]) -> str | None:
    """The reasoning text of a reply's ``message`` or a stream's ``delta``, if any:
    ``reasoning_content`` (vLLM, DeepSeek, llama.cpp) or ``reasoning`` (Ollama)."""
    text = message.get("reasoning_content")
    if text is None:
        text = message.get("reasoning")
    return text if isinstance(text, str) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def snippet(data: Any, limit: int = 200) -> str:
    """A short, printable piece of a body for an error message."""
    text = data[: limit * 4].decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
