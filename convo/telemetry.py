"""OpenTelemetry spans and metrics for every turn, after the GenAI semantic conventions.

Tracing is on whenever an OpenTelemetry tracer provider is configured
(``opentelemetry-api`` installed - the ``convo[otel]`` extra - and a provider set);
otherwise :func:`start` returns ``None`` and a turn runs exactly as without it. convo
never imports OpenTelemetry itself: an application that configured a provider did. A turn
gives an ``invoke_agent convo`` span (INTERNAL) holding one ``chat {model}`` span
(CLIENT) per model call and one ``execute_tool {name}`` span (INTERNAL) per tool call,
and records ``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage``.
Message content is captured only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
is ``true``, and then with credentials scrubbed.

The trace observes the effects the I/O-free turn yields and their answers; it decides
nothing, and the turn does not know it is traced.

>>> start is not None
True
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Sequence
from dataclasses import replace
from typing import Any

from convo.effects import CLOSE_STREAM, NEXT_CHUNK, CallModel, OpenStream, RunTools
from convo.events import TextDelta
from convo.redact import scrub
from convo.reply import Reply, Usage
from convo.wire import message_to_wire

__all__ = ["CAPTURE_ENV", "TurnTrace", "start"]

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_SCOPE = "convo"

# Request parameters -> their gen_ai.request.* attribute.
_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
    "n": "gen_ai.request.choice.count",
}

# One immutable tuple per tracer provider, replaced whole: getting a tracer and
# creating instruments once per provider instead of once per turn.
_instruments: tuple[Any, Any, Any, Any] | None = None


def _tools_for(provider: Any) -> tuple[Any, Any, Any, Any]:
    global _instruments
    cached = _instruments
    if cached is not None and cached[0] is provider:
        return cached
    from opentelemetry import metrics

    meter = metrics.get_meter(_SCOPE)
    made = (
        provider,
        provider.get_tracer(_SCOPE),
        meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration"
        ),
        meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used"
        ),
    )
    _instruments = made
    return made


def start(ctx: Any, conversation_id: str, transport: Any) -> TurnTrace | None:
    """A trace for one turn, or ``None`` when no tracer provider is configured."""
    # Configuring a provider imports the API: if nothing imported it, nothing is
    # configured, and convo never pays for importing it (tens of milliseconds).
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    _, tracer, duration, tokens = _tools_for(provider)
    name = getattr(transport, "provider_name", None) or "openai"
    return TurnTrace(tracer, duration, tokens, ctx, conversation_id, str(name))


class TurnTrace:
    """The spans of one turn: :meth:`flow` taps the turn's effects, :meth:`events`
    (or :meth:`aevents`) wraps the driver's events to see how the turn ended."""

    def __init__(
        self,
        tracer: Any,
        duration: Any,
        tokens: Any,
        ctx: Any,
        conversation_id: str,
        provider: str,
    ) -> None:
        self.tracer = tracer
        self.duration = duration
        self.tokens = tokens
        self.conversation_id = conversation_id
        self.provider = provider
        self.model = ctx.model
        self.capture = os.environ.get(CAPTURE_ENV, "").strip().lower() == "true"
        self.turn: Any = None
        self.parent: Any = None
        self.call: Any = None  # the open chat span: (span, started, request attributes)
        self.stream: dict[str, Any] = {}
        self.tool_spans: list[Any] = []

    # -- the turn's span --------------------------------------------------------------

    def _open_turn(self) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind

        attrs = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "convo",
            "gen_ai.provider.name": self.provider,
            "gen_ai.request.model": self.model,
            "gen_ai.conversation.id": self.conversation_id,
        }
        self.turn = self.tracer.start_span(
            "invoke_agent convo", kind=SpanKind.INTERNAL, attributes=attrs
        )
        self.parent = trace.set_span_in_context(self.turn)

    def _close_turn(self, reply: Reply | None) -> None:
        if self.turn is None:
            return
        usage = reply.turn_usage if reply is not None else None
        if usage is not None:
            self.turn.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            self.turn.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
        if reply is not None and reply.id:
            self.turn.set_attribute("gen_ai.response.id", reply.id)
        self.turn.end()
        self.turn = None

    def fail(self, exc: BaseException) -> None:
        """The turn ended with ``exc``: every open span records it and ends."""
        # GeneratorExit: closed by the caller (a stream left early), not an error.
        error = None if isinstance(exc, GeneratorExit) else type(exc).__qualname__
        if self.call is not None:
            self._end_call(None, error)
        for span in self.tool_spans:
            _fail(span, error)
            span.end()
        self.tool_spans = []
        if self.turn is not None:
            _fail(self.turn, error)
            self.turn.end()
            self.turn = None

    # -- model calls ------------------------------------------------------------------

    def _start_call(self, request: Any) -> None:
        from opentelemetry.trace import SpanKind

        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self.provider,
            "gen_ai.request.model": request.model,
            "gen_ai.conversation.id": self.conversation_id,
        }
        body = request.payload
        for param, attr in _PARAMS.items():
            value = body.get(param)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attrs[attr] = value
        stop = body.get("stop")
        if stop:
            attrs["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else stop
        if "response_format" in body:
            attrs["gen_ai.output.type"] = "json"
        if request.stream:
            attrs["gen_ai.request.stream"] = True
        if self.capture:
            messages = scrub([message_to_wire(m) for m in request.messages])
            attrs["gen_ai.input.messages"] = json.dumps(messages, ensure_ascii=False)
        span = self.tracer.start_span(
            f"chat {request.model}", context=self.parent, kind=SpanKind.CLIENT, attributes=attrs
        )
        self.call = (span, time.perf_counter(), request.model)
        self.stream = {}

    def _end_call(self, reply: Reply | None, error: str | None = None) -> None:
        assert self.call is not None
        span, started, model = self.call
        self.call = None
        metric = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self.provider,
            "gen_ai.request.model": model,
        }
        usage = reply.usage if reply is not None else None
        response_model = reply.model if reply is not None else self.stream.get("model")
        if response_model:
            metric["gen_ai.response.model"] = response_model
            span.set_attribute("gen_ai.response.model", response_model)
        if reply is not None:
            if reply.id:
                span.set_attribute("gen_ai.response.id", reply.id)
            if reply.choices:  # a stream's reasons were taken from its chunks
                reasons = [c.finish_reason or "" for c in reply.choices]
                span.set_attribute("gen_ai.response.finish_reasons", reasons)
            if self.capture and reply.choices:
                out = scrub([message_to_wire(c.message) for c in reply.choices])
                span.set_attribute("gen_ai.output.messages", json.dumps(out, ensure_ascii=False))
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
            self.tokens.record(usage.prompt_tokens, {**metric, "gen_ai.token.type": "input"})
            self.tokens.record(usage.completion_tokens, {**metric, "gen_ai.token.type": "output"})
        if error is not None:
            metric["error.type"] = error
        _fail(span, error)
        self.duration.record(time.perf_counter() - started, metric)
        span.end()

    def _chunk(self, chunk: Any) -> None:
        # What a stream tells of its reply, kept from the chunks as they pass.
        if not isinstance(chunk, dict):
            return
        seen = self.stream
        for key in ("id", "model"):
            if chunk.get(key) and key not in seen:
                seen[key] = chunk[key]
        if chunk.get("usage"):
            seen["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("finish_reason"):
                seen.setdefault("reasons", {})[choice.get("index", 0)] = choice["finish_reason"]

    def _end_stream(self) -> None:
        seen = self.stream
        span = self.call[0] if self.call else None
        if span is not None:
            if seen.get("id"):
                span.set_attribute("gen_ai.response.id", seen["id"])
            reasons = seen.get("reasons")
            if reasons:
                span.set_attribute(
                    "gen_ai.response.finish_reasons", [reasons[i] for i in sorted(reasons)]
                )
        usage = seen.get("usage")
        reply = None
        if isinstance(usage, dict):
            parsed = Usage.model_validate(usage)
            reply = Reply(choices=(), usage=parsed, model=seen.get("model"))
        if reply is not None:
            self._end_call(reply)
        else:
            self._end_call(None)

    # -- tool calls -------------------------------------------------------------------

    def _start_tools(self, effect: RunTools) -> RunTools:
        self.tool_spans = [self._tool_span(p) for p in effect.calls]
        if not self.tool_spans:
            return effect
        hook = effect.on_result
        spans = {id(p): s for p, s in zip(effect.calls, self.tool_spans, strict=True)}

        def on_result(call: Any, answer: Any) -> Any:
            # Each call's span ends as its answer arrives (in call order when sync).
            span = spans.pop(id(call), None)
            if span is not None:
                if self.capture:
                    span.set_attribute("gen_ai.tool.call.result", scrub(answer.text))
                span.end()
                self.tool_spans = [s for s in self.tool_spans if s is not span]
            return hook(call, answer) if hook is not None else None

        return replace(effect, on_result=on_result)

    def _tool_span(self, prepared: Any) -> Any:
        from opentelemetry.trace import SpanKind

        tool = prepared.tool
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": prepared.call.id,
            "gen_ai.tool.type": "function",
        }
        if getattr(tool, "description", None):
            attrs["gen_ai.tool.description"] = tool.description
        if self.capture:
            attrs["gen_ai.tool.call.arguments"] = scrub(prepared.call.function.arguments)
        return self.tracer.start_span(
            f"execute_tool {tool.name}",
            context=self.parent,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
        )

    def _end_tools(self, answers: Sequence[Any]) -> None:
        for span in self.tool_spans:  # calls the hook did not see (refused, external)
            span.end()
        self.tool_spans = []

    # -- the tap ----------------------------------------------------------------------

    def flow(self, flow: Generator[Any, Any, Reply]) -> Generator[Any, Any, Reply]:
        """``flow`` as it is, its effects and answers observed."""
        self._open_turn()
        try:
            effect = next(flow)
            while True:
                kind = type(effect)
                if kind is CallModel:
                    self._start_call(effect.request)
                    answer = yield effect
                    self._end_call(answer)
                elif kind is OpenStream:
                    self._start_call(effect.request)
                    answer = yield effect
                elif effect is CLOSE_STREAM:
                    self._end_stream()
                    answer = yield effect
                elif effect is NEXT_CHUNK or kind is TextDelta:
                    answer = yield effect
                    self._chunk(answer)
                elif kind is RunTools:
                    answer = yield self._start_tools(effect)
                    self._end_tools(answer)
                else:
                    answer = yield effect
                effect = flow.send(answer)
        except StopIteration as stop:
            reply: Reply = stop.value
            self._close_turn(reply)
            return reply
        except GeneratorExit:
            # The driver closes the turn when its own I/O failed: the exception is seen
            # by events(), which ends the spans with it.
            raise
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            flow.close()

    def events(self, events: Iterator[Any]) -> Iterator[Any]:
        """The driver's events; an exception from the driver's I/O ends the spans."""
        try:
            yield from events
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
            self.fail(GeneratorExit())  # whatever is still open (nothing, normally)

    async def aevents(self, events: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
        """The async twin of :meth:`events`."""
        try:
            async for event in events:
                yield event
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
            self.fail(GeneratorExit())


def _fail(span: Any, error: str | None) -> None:
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, error))
