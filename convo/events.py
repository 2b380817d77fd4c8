"""The events a turn emits while it runs: what ``Stream.events()`` yields.

Iterating a stream gives only the text (``TextDelta.text``), or partial objects with
``response_format``; ``events()`` gives everything, in order:

- :class:`ModelCall` - a model call starts, and why: the turn's first call
  (``"turn"``), a call after a tool round (``"tool_round"``), or a structured-output
  retry (``"output_retry"``). The text of each call follows it, so text from before a
  ``ModelCall`` belongs to an earlier call (``"".join(stream)`` joins them all).
- :class:`TextDelta` - text of the reply as it arrives (of the chosen choice).
- :class:`ToolCallEvent` / :class:`ToolResultEvent` - every call of a tool round,
  then every answer, in call order (answers convo wrote itself included).
- :class:`PartialOutput` - the structured output so far (``final`` once validated).
- :class:`Finished` - the last event: the turn is committed; ``.reply`` is the reply.

>>> ModelCall("tool_round").reason
'tool_round'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from convo.messages import Message, ToolCall
    from convo.reply import Reply
    from convo.request import Request

__all__ = [
    "Event",
    "Finished",
    "ModelCall",
    "PartialOutput",
    "TextDelta",
    "ToolCallEvent",
    "ToolResultEvent",
]


@dataclass(frozen=True, slots=True)
class ModelCall:
    """A model call starts; ``reason`` says why, ``request`` is what is sent."""

    reason: Literal["turn", "tool_round", "output_retry"]
    request: Request | None = None


class TextDelta(NamedTuple):
    """Text of the reply, as it arrives.

    A named tuple, not a dataclass: one is made per streamed chunk, and a tuple is the
    cheapest immutable value to make (measured: a third of a frozen dataclass's cost).
    """

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """The model asked for this call; it is about to be answered."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    """A tool call was answered with this ``tool`` message."""

    message: Message


@dataclass(frozen=True, slots=True)
class PartialOutput:
    """Structured output so far: an instance of the requested type once its required
    fields have arrived (a dict for dict schemas); ``final`` when validated."""

    value: Any
    final: bool = False


@dataclass(frozen=True, slots=True)
class Finished:
    """The turn is committed; ``reply`` is what ``send()`` would have returned."""

    reply: Reply


Event = ModelCall | TextDelta | ToolCallEvent | ToolResultEvent | PartialOutput | Finished
