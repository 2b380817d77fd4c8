"""A suspended turn: tool calls that await a result from the caller or an approval.

When the model calls an *external* tool (a raw function definition given in
``tools=``) or the approval hook returns :data:`DEFER`, the turn ends with the
assistant's ``tool_calls`` message in the history and an :class:`Awaiting` record
beside it: which calls still wait, and the answers already made for the others of the
round, kept in call order. Nothing is sent to the model until every call of the round
is answered; then the answers join the history in call order, once each, and the
model is called again. The record is plain data: it is stored with the conversation
(in the header's convo-owned metadata) and survives a reload in another process.

>>> from convo.messages import FunctionCall, Message, ToolCall
>>> call = ToolCall(id="c1", function=FunctionCall(name="lookup", arguments="{}"))
>>> a = Awaiting.of(Message.assistant(tool_calls=[call]), [PendingCall(call, "result")])
>>> [c.id for c in a.calls]
['c1']
>>> answers, rest = a.answer([Message.tool("42", tool_call_id="c1")])
>>> [m.text for m in answers], rest
(['42'], None)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from convo.errors import PendingToolCallsError, ToolArgumentsError
from convo.messages import Message, ToolCall
from convo.reply import Choice, Reply

__all__ = ["DEFER", "Awaiting", "PendingCall", "ToolResult"]


class _Defer:
    __slots__ = ()

    def __repr__(self) -> str:
        return "convo.DEFER"

    def __reduce__(self) -> str:
        return "DEFER"


#: What an ``approve`` hook returns to decide later: the turn is suspended with the call
#: awaiting approval, and ``conv.resolve(tool_call_id, approved=...)`` resumes it.
DEFER: Any = _Defer()

CANCELLED = "Cancelled by the user: this call was not run."


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The caller's answer to a tool call the conversation returned to it.

    >>> ToolResult("call_1", "18 degrees").message().role
    'tool'
    """

    tool_call_id: str
    content: Any

    def message(self) -> Message:
        from convo.tools import to_text

        return Message.tool(to_text(self.content), tool_call_id=self.tool_call_id)


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A call of the round that has no answer yet; ``kind`` says what it waits for."""

    call: ToolCall
    kind: Literal["result", "approval"]


@dataclass(frozen=True, slots=True)
class Awaiting:
    """What a suspended turn waits for. ``start`` is where the turn began in the history
    (its messages from there on are sent again, whole, when it resumes)."""

    message: Message
    slots: tuple[Message | PendingCall, ...]
    start: int = 0

    @classmethod
    def of(
        cls, message: Message, slots: Iterable[Message | PendingCall], start: int = 0
    ) -> Awaiting:
        return cls(message, tuple(slots), start)

    @property
    def calls(self) -> tuple[ToolCall, ...]:
        """The calls still waiting, in call order."""
        return tuple(s.call for s in self.slots if isinstance(s, PendingCall))

    def waiting(self, kind: str) -> list[ToolCall]:
        return [s.call for s in self.slots if isinstance(s, PendingCall) and s.kind == kind]

    def answer(
        self, results: Sequence[Message], approvals: Sequence[Message] = ()
    ) -> tuple[list[Message], Awaiting | None]:
        """Take the caller's ``results`` and the answers of resolved ``approvals``.

        Returns every answer of the round in call order once all are in (and
        ``None``), else ``[]`` and what still waits. Unknown ids, duplicates, and
        answers for calls already answered or awaiting the other kind are refused,
        naming the id; nothing is taken then.
        """
        slots = list(self.slots)
        index = {self._id(s): i for i, s in enumerate(slots)}
        seen: set[str] = set()
        given = [(m, "result") for m in results] + [(m, "approval") for m in approvals]
        for answer, kind in given:
            cid = answer.tool_call_id or ""
            if cid in seen:
                raise _refuse(f"two answers were given for tool call {cid!r}", cid)
            seen.add(cid)
            i = index.get(cid)
            if i is None:
                waiting = ", ".join(repr(c.id) for c in self.calls) or "none"
                raise _refuse(f"no tool call {cid!r} awaits an answer (waiting: {waiting})", cid)
            slot = slots[i]
            if not isinstance(slot, PendingCall):
                raise _refuse(f"tool call {cid!r} was already answered", cid)
            if slot.kind != kind:
                wanted = "an approval: use resolve()" if slot.kind == "approval" else "a result"
                raise _refuse(f"tool call {cid!r} awaits {wanted}", cid)
            slots[i] = answer
        rest = Awaiting(self.message, tuple(slots), self.start)
        if rest.calls:
            return [], rest
        return [s for s in slots if isinstance(s, Message)], None

    def approval(self, tool_call_id: str) -> ToolCall:
        """The call awaiting approval with this id, or an error naming it."""
        for call in self.waiting("approval"):
            if call.id == tool_call_id:
                return call
        if any(c.id == tool_call_id for c in self.calls):
            raise _refuse(
                f"tool call {tool_call_id!r} awaits a result, not an approval", tool_call_id
            )
        raise _refuse(f"no tool call {tool_call_id!r} awaits an approval", tool_call_id)

    def cancel(self) -> list[Message]:
        """Every answer of the round, each waiting call answered "cancelled", once."""
        return [
            Message.tool(CANCELLED, tool_call_id=s.call.id) if isinstance(s, PendingCall) else s
            for s in self.slots
        ]

    def blocked(self) -> PendingToolCallsError:
        ids = [c.id for c in self.calls]
        return PendingToolCallsError(
            f"{len(ids)} tool call(s) await an answer ({', '.join(map(repr, ids))}): send "
            "convo.ToolResult values, resolve() the approvals, or pass cancel_pending=True "
            "to answer them as cancelled",
            tool_call_ids=ids,
        )

    def reply(self, reply: Reply | None) -> Reply:
        """The reply a suspended turn returns: the round's message, ``tool_calls``."""
        if reply is not None:
            return reply.model_copy(update={"pending": self.calls})
        choice = Choice(message=self.message, finish_reason="tool_calls")
        return Reply(choices=(choice,), pending=self.calls)

    @staticmethod
    def _id(slot: Message | PendingCall) -> str:
        return slot.call.id if isinstance(slot, PendingCall) else (slot.tool_call_id or "")

    # -- persisted as plain data ------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        return {
            "message": self.message.model_dump(mode="json", exclude_none=True),
            "start": self.start,
            "slots": [
                {"call": s.call.id, "kind": s.kind}
                if isinstance(s, PendingCall)
                else {"answer": s.model_dump(mode="json", exclude_none=True)}
                for s in self.slots
            ],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Awaiting:
        message = Message.model_validate(data["message"])
        calls = {c.id: c for c in message.tool_calls or ()}
        slots: list[Message | PendingCall] = []
        for s in data["slots"]:
            if "answer" in s:
                slots.append(Message.model_validate(s["answer"]))
            else:
                slots.append(PendingCall(calls[s["call"]], s["kind"]))
        return cls(message, tuple(slots), int(data.get("start", 0)))


def _refuse(message: str, tool_call_id: str) -> ToolArgumentsError:
    return ToolArgumentsError(message, tool_call_id=tool_call_id)
