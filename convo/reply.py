"""What the model answered: :class:`Reply`, its :class:`Choice` values and :class:`Usage`.

>>> from convo.messages import Message
>>> r = Reply(choices=(Choice(message=Message.assistant("Hi"), finish_reason="stop"),))
>>> r.text, r.finish_reason
('Hi', 'stop')
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from convo.messages import Message

__all__ = ["Choice", "Reply", "Usage", "add_usage"]


class Usage(BaseModel):
    """Token usage as the server billed it (extra detail fields are kept)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    """The sum of two usages (the detail fields summed where both are numbers).

    >>> add_usage(Usage(prompt_tokens=3, total_tokens=3), Usage(prompt_tokens=2, total_tokens=2))
    Usage(prompt_tokens=5, completion_tokens=0, total_tokens=5)
    """
    if more is None:
        return total
    if total is None:
        return more
    a, b = total.model_dump(), more.model_dump()
    return Usage.model_validate({k: _add(a.get(k), b.get(k)) for k in {**a, **b}})


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _add(a.get(k), b.get(k)) for k in {**a, **b}}
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    return b if a is None else a


class Choice(BaseModel):
    """One of a reply's ``n`` answers.

    ``logprobs`` is the API's object (streamed ones joined: ``content`` and
    ``refusal`` lists in order); ``reasoning`` the reasoning text that compatible
    servers send beside the answer (``reasoning_content`` in vLLM, DeepSeek and
    llama.cpp, ``reasoning`` in Ollama and OpenRouter), never put in the history.
    """

    model_config = ConfigDict(frozen=True)

    index: int = 0
    message: Message
    finish_reason: str | None = None
    logprobs: Any = None
    reasoning: str | None = None


class Reply(BaseModel):
    """One answer of the model: all ``n`` choices, usage, and the parsed object if asked.

    ``chosen`` is the index of the choice that was appended to the history.
    ``prompt_tokens_local`` is convo's own count of the prompt, so that
    ``usage.prompt_tokens - prompt_tokens_local`` shows how far the count is off.
    ``usage`` is this model call's; ``turn_usage`` sums every call of the turn (tool
    rounds, structured-output retries, the summary), as the store records it.
    ``pending`` lists the tool calls a suspended turn awaits (``None`` otherwise).
    ``request_id`` (the ``x-request-id`` header), ``system_fingerprint``,
    ``service_tier`` and ``headers`` (the raw response headers of this call, lower-cased:
    rate limits, processing time) are set by HTTP transports, streamed or not.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    choices: tuple[Choice, ...]
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    created: int | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    request_id: str | None = None
    headers: dict[str, str] | None = Field(default=None, repr=False)
    chosen: int = 0
    parsed: Any = None
    prompt_tokens_local: int | None = None
    turn_usage: Usage | None = None
    pending: tuple[Any, ...] | None = None

    @property
    def choice(self) -> Choice:
        return self.choices[self.chosen]

    @property
    def message(self) -> Message:
        """The assistant message that was (or will be) appended."""
        return self.choices[self.chosen].message

    @property
    def text(self) -> str:
        return self.choices[self.chosen].message.text

    @property
    def reasoning(self) -> str | None:
        """The chosen choice's reasoning text, if the server sent any."""
        return self.choices[self.chosen].reasoning

    @property
    def finish_reason(self) -> str | None:
        return self.choices[self.chosen].finish_reason

    @property
    def tool_calls(self) -> tuple[Any, ...]:
        """The calls of the reply; of a suspended turn, the calls that await an answer."""
        if self.pending is not None:
            return self.pending
        return self.message.tool_calls or ()

    @property
    def prompt_tokens_error(self) -> int | None:
        """Server count minus local count, when both are known."""
        if self.usage is None or self.prompt_tokens_local is None:
            return None
        return self.usage.prompt_tokens - self.prompt_tokens_local
