"""What the model answered: :class:`Reply`, its :class:`Choice` values and :class:`Usage`.

>>> from convo.messages import Message
>>> r = Reply(choices=(Choice(message=Message.assistant("Hi"), finish_reason="stop"),))
>>> r.text, r.finish_reason
('Hi', 'stop')
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from convo.messages import Message

__all__ = ["Choice", "Reply", "Usage"]


class Usage(BaseModel):
    """Token usage as the server billed it (extra detail fields are kept)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Choice(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = 0
    message: Message
    finish_reason: str | None = None
    logprobs: Any = None


class Reply(BaseModel):
    """One answer of the model: all ``n`` choices, usage, and the parsed object if asked.

    ``chosen`` is the index of the choice that was appended to the history.
    ``prompt_tokens_local`` is convo's own count of the prompt, so that
    ``usage.prompt_tokens - prompt_tokens_local`` shows how far the count is off.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    choices: tuple[Choice, ...]
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    created: int | None = None
    system_fingerprint: str | None = None
    request_id: str | None = None
    chosen: int = 0
    parsed: Any = None
    prompt_tokens_local: int | None = None

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
    def finish_reason(self) -> str | None:
        return self.choices[self.chosen].finish_reason

    @property
    def tool_calls(self) -> tuple[Any, ...]:
        return self.message.tool_calls or ()

    @property
    def prompt_tokens_error(self) -> int | None:
        """Server count minus local count, when both are known."""
        if self.usage is None or self.prompt_tokens_local is None:
            return None
        return self.usage.prompt_tokens - self.prompt_tokens_local
