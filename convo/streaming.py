"""Assemble streamed ``chat.completion.chunk`` objects into one :class:`Reply`, without I/O.

Tool calls arrive by ``index``: the id and name on the first chunk of a call, the
arguments split across later ones, several calls interleaved.

>>> a = StreamAssembler()
>>> a.feed({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]})
'Hel'
>>> a.feed({"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]})
'lo'
>>> a.finish().text
'Hello'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from convo.errors import IncompleteStreamError, ProtocolError, StreamError
from convo.reply import Choice, Reply, Usage
from convo.wire import message_from_wire, snippet

__all__ = ["RESPONSE_KEY", "StreamAssembler", "chunks_from_reply"]

RESPONSE_KEY = "x_convo_response"
"""The key under which an HTTP transport puts what the response's headers said
(``{"request_id": ..., "headers": {...}}``) on the first chunk it yields."""


@dataclass(slots=True)
class _Call:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Choice:
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None
    has_content: bool = False
    reasoning: list[str] = field(default_factory=list)
    reasoning_items: list[Any] = field(default_factory=list)
    logprobs: dict[str, Any] | None = None


class StreamAssembler:
    """Feed chunks in order; :meth:`finish` gives the whole reply.

    Whether the stream ended well is the transport's to say (for HTTP, the rule in
    :class:`~convo.transports._http.ChunkDecoder`): a stream that ended is assembled
    as it came, a choice without a ``finish_reason`` keeping ``None``. The reply
    carries the metadata the chunks carried: ``system_fingerprint``,
    ``service_tier``, per-choice ``logprobs``, reasoning deltas and items, and the request id
    and headers an HTTP transport puts on the first chunk (:data:`RESPONSE_KEY`).
    """

    __slots__ = (
        "_choices",
        "_watch",
        "created",
        "headers",
        "id",
        "model",
        "request_id",
        "service_tier",
        "system_fingerprint",
        "usage",
    )

    def __init__(self, *, request_id: str | None = None, choice: int = 0) -> None:
        self._choices: dict[int, _Choice] = {}
        self._watch = choice  # the choice whose text feed() returns
        self.usage: Usage | None = None
        self.id: str | None = None
        self.model: str | None = None
        self.created: int | None = None
        self.system_fingerprint: str | None = None
        self.service_tier: str | None = None
        self.request_id = request_id
        self.headers: dict[str, str] | None = None

    def feed(self, chunk: Mapping[str, Any]) -> str | None:
        """Take one chunk; return the text it adds to the watched choice, if any."""
        error = chunk.get("error")
        if error is not None:
            if isinstance(error, Mapping):
                raise StreamError(
                    str(error.get("message") or error),
                    type=error.get("type"),
                    code=None if error.get("code") is None else str(error.get("code")),
                )
            raise StreamError(str(error))
        if self.id is None:  # the first chunks: what the stream says about itself
            self._head(chunk)
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            self.usage = Usage.model_validate(usage)
        text: str | None = None
        for c in chunk.get("choices") or ():
            index = c.get("index", 0)
            acc = self._choices.get(index)
            if acc is None:
                acc = self._choices[index] = _Choice()
            delta = c.get("delta") or {}
            piece = delta.get("content")
            if piece is not None:
                acc.has_content = True
                if piece:
                    acc.content.append(piece)
                    if index == self._watch:
                        text = piece if text is None else text + piece
            if delta.get("refusal"):
                acc.refusal.append(delta["refusal"])
            for tc in delta.get("tool_calls") or ():
                self._call(acc, tc)
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                acc.reasoning.append(reasoning)
            items = delta.get("reasoning_items")
            if items:
                acc.reasoning_items.extend(items)
            logprobs = c.get("logprobs")
            if logprobs:
                _add_logprobs(acc, logprobs)
            if c.get("finish_reason"):
                acc.finish_reason = c["finish_reason"]
        return text

    def _head(self, chunk: Mapping[str, Any]) -> None:
        self.id = chunk.get("id")
        self.model = chunk.get("model")
        self.created = chunk.get("created")
        if self.system_fingerprint is None:
            self.system_fingerprint = chunk.get("system_fingerprint")
        if self.service_tier is None and chunk.get("service_tier") is not None:
            self.service_tier = str(chunk["service_tier"])
        info = chunk.get(RESPONSE_KEY)
        if isinstance(info, Mapping):
            self.request_id = info.get("request_id") or self.request_id
            self.headers = info.get("headers")

    @staticmethod
    def _call(acc: _Choice, tc: Mapping[str, Any]) -> None:
        index = tc.get("index")
        if not isinstance(index, int):
            # Some servers omit the index: a new id starts a new call, else it continues the last.
            new = tc.get("id") and all(c.id != tc["id"] for c in acc.calls.values())
            index = len(acc.calls) if new or not acc.calls else max(acc.calls)
        call = acc.calls.get(index)
        if call is None:
            call = acc.calls[index] = _Call()
        if tc.get("id"):
            call.id = tc["id"]
        fn = tc.get("function") or {}
        if fn.get("name") and not call.name:  # sent once; some servers repeat it whole
            call.name = fn["name"]
        if fn.get("arguments"):
            call.arguments.append(fn["arguments"])

    @property
    def text(self) -> str:
        """The text of the watched choice so far."""
        acc = self._choices.get(self._watch)
        return "".join(acc.content) if acc else ""

    def finish(self) -> Reply:
        """The assembled reply; a stream that ended before any choice is incomplete."""
        if not self._choices:
            raise IncompleteStreamError("the stream ended before any choice arrived")
        choices = []
        for index in sorted(self._choices):
            acc = self._choices[index]
            calls = []
            for i in sorted(acc.calls):
                call = acc.calls[i]
                if not call.id or not call.name:
                    raise ProtocolError(
                        f"streamed tool call {i} has no id or name", snippet=snippet(call)
                    )
                calls.append(
                    {
                        "id": call.id,
                        "function": {"name": call.name, "arguments": "".join(call.arguments)},
                    }
                )
            message = message_from_wire(
                {
                    "role": "assistant",
                    "content": "".join(acc.content) if acc.has_content or not calls else None,
                    "tool_calls": calls or None,
                    "refusal": "".join(acc.refusal) or None,
                    "reasoning_items": acc.reasoning_items or None,
                }
            )
            choices.append(
                Choice(
                    index=index,
                    message=message,
                    finish_reason=acc.finish_reason,
                    logprobs=acc.logprobs,
                    reasoning="".join(acc.reasoning) or None,
                )
            )
        return Reply(
            choices=tuple(choices),
            usage=self.usage,
            id=self.id,
            model=self.model,
            created=self.created,
            system_fingerprint=self.system_fingerprint,
            service_tier=self.service_tier,
            request_id=self.request_id,
            headers=self.headers,
        )


def _add_logprobs(acc: _Choice, logprobs: Any) -> None:
    # Each chunk's logprobs hold the tokens of its delta: the lists are joined in order.
    if not isinstance(logprobs, Mapping):
        return
    if acc.logprobs is None:
        acc.logprobs = {}
    for key, value in logprobs.items():
        if isinstance(value, list):
            acc.logprobs.setdefault(key, []).extend(value)
        elif value is not None:
            acc.logprobs[key] = value


def chunks_from_reply(reply: Reply, *, pieces: int = 0) -> list[dict[str, Any]]:
    """The chunks a server would stream for ``reply`` (for test doubles and fallbacks).

    ``pieces`` > 0 splits each text into about that many deltas; 0 splits by words.
    """
    out: list[dict[str, Any]] = []
    head: dict[str, Any] = {
        "id": reply.id or "chatcmpl-convo",
        "object": "chat.completion.chunk",
        "model": reply.model or "convo",
        "created": reply.created or 0,
    }
    if reply.system_fingerprint is not None:
        head["system_fingerprint"] = reply.system_fingerprint
    if reply.service_tier is not None:
        head["service_tier"] = reply.service_tier
    for choice in reply.choices:
        m = choice.message
        out.append({**head, "choices": [{"index": choice.index, "delta": {"role": "assistant"}}]})
        if choice.reasoning:
            out.append(
                {
                    **head,
                    "choices": [
                        {"index": choice.index, "delta": {"reasoning_content": choice.reasoning}}
                    ],
                }
            )
        if m.reasoning_items:
            items = [r.model_dump() for r in m.reasoning_items]
            out.append(
                {**head, "choices": [{"index": choice.index, "delta": {"reasoning_items": items}}]}
            )
        for piece in _split(m.text, pieces):
            out.append({**head, "choices": [{"index": choice.index, "delta": {"content": piece}}]})
        if m.refusal:
            out.append(
                {**head, "choices": [{"index": choice.index, "delta": {"refusal": m.refusal}}]}
            )
        for i, call in enumerate(m.tool_calls or ()):
            out.append(
                {
                    **head,
                    "choices": [
                        {
                            "index": choice.index,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": i,
                                        "id": call.id,
                                        "type": "function",
                                        "function": {"name": call.function.name, "arguments": ""},
                                    }
                                ]
                            },
                        }
                    ],
                }
            )
            for piece in _split(call.function.arguments, pieces or 3):
                out.append(
                    {
                        **head,
                        "choices": [
                            {
                                "index": choice.index,
                                "delta": {
                                    "tool_calls": [{"index": i, "function": {"arguments": piece}}]
                                },
                            }
                        ],
                    }
                )
        out.append(
            {
                **head,
                "choices": [
                    {
                        "index": choice.index,
                        "delta": {},
                        "finish_reason": choice.finish_reason or "stop",
                        **({"logprobs": choice.logprobs} if choice.logprobs else {}),
                    }
                ],
            }
        )
    if reply.usage is not None:
        out.append({**head, "choices": [], "usage": reply.usage.model_dump()})
    return out


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    if pieces <= 0:
        words = text.split(" ")
        return (
            [w + " " for w in words[:-1]] + [words[-1]]
            if words[-1]
            else [w + " " for w in words[:-1]]
        )
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]
