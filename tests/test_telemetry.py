"""OpenTelemetry GenAI spans and metrics, read back with the SDK's in-memory exporters
and checked against the conventions' attribute names (opentelemetry-semantic-conventions)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GA
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as GM
from opentelemetry.semconv.attributes import error_attributes as EA
from opentelemetry.trace import SpanKind, StatusCode

import convo
from convo import Reply, ScriptedTransport, Usage
from convo.errors import RateLimitError
from convo.messages import Message
from convo.reply import Choice
from convo.transports.openai import OpenAITransport
from convo.transports.testing import tool_calls
from tests.support import ChatServer
from tests.support.chatserver import error

KEY = "sk-proj-Zx81Qm4Tn7Wc2Ye5Ru9Io3Pa6Sd0Fg"


@convo.tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name.startswith(prefix)]

    def metric_points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        points: list[Any] = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        points.extend(m.data.data_points)
        return points


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Otel:
    # The SDK providers for this test only, not installed process-wide: the global
    # provider can be set once, and the rest of the suite runs with tracing off.
    o = Otel()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: o.provider)
    monkeypatch.setattr(metrics, "get_meter", o.meters.get_meter)
    return o


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _conv(mode: str, transport: Any, **kw: Any) -> Any:
    cls = convo.Conversation if mode == "sync" else convo.AsyncConversation
    return cls("Be brief.", model="gpt-4o-mini", transport=transport, **kw)


async def _send(conv: Any, text: str, **params: Any) -> Reply:
    if isinstance(conv, convo.AsyncConversation):
        return await conv.send(text, **params)
    return conv.send(text, **params)


async def _stream(conv: Any, text: str) -> list[str]:
    if isinstance(conv, convo.AsyncConversation):
        return [str(d) async for d in conv.stream(text)]
    return [str(d) for d in conv.stream(text)]


def _reply(text: str, prompt: int, completion: int, **kw: Any) -> Reply:
    usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    message = Message.assistant(text)
    return Reply(choices=(Choice(message=message, finish_reason="stop"),), usage=usage, **kw)


async def test_a_chat_span_per_call_inside_the_turn_span(otel: Otel, mode: str) -> None:
    fake = ScriptedTransport(_reply("Hi.", 12, 3, id="chatcmpl-1", model="gpt-4o-mini-2024"))
    conv = _conv(mode, fake, temperature=0.2, top_p=0.9, max_tokens=50, seed=7)
    await _send(conv, "Hello")
    [chat] = otel.named("chat ")
    [turn] = otel.named("invoke_agent")
    assert chat.name == "chat gpt-4o-mini"
    assert chat.kind is SpanKind.CLIENT
    assert chat.parent is not None and chat.parent.span_id == turn.context.span_id
    a = chat.attributes or {}
    assert a[GA.GEN_AI_OPERATION_NAME] == "chat"
    assert a[GA.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[GA.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert a[GA.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[GA.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[GA.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[GA.GEN_AI_REQUEST_SEED] == 7
    assert a[GA.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert a[GA.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024"
    assert tuple(a[GA.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[GA.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert a[GA.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert a[GA.GEN_AI_CONVERSATION_ID] == conv.id
    assert GA.GEN_AI_INPUT_MESSAGES not in a  # content only when opted in
    t = turn.attributes or {}
    assert turn.kind is SpanKind.INTERNAL
    assert t[GA.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert t[GA.GEN_AI_CONVERSATION_ID] == conv.id
    assert t[GA.GEN_AI_USAGE_INPUT_TOKENS] == 12
    # The metrics, by their conventional names and attributes.
    [operation] = otel.metric_points(GM.GEN_AI_CLIENT_OPERATION_DURATION)  # its labels
    assert operation.attributes[GA.GEN_AI_OPERATION_NAME] == "chat"
    assert operation.attributes[GA.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    tokens = {
        p.attributes[GA.GEN_AI_TOKEN_TYPE]: p.sum
        for p in otel.metric_points(GM.GEN_AI_CLIENT_TOKEN_USAGE)
    }
    assert tokens == {"input": 12, "output": 3}


async def test_a_tool_round(otel: Otel, mode: str) -> None:
    fake = ScriptedTransport(tool_calls(("add", {"a": 2, "b": 3})), "It is 5.")
    conv = _conv(mode, fake, tools=[add])
    await _send(conv, "Add 2 and 3")
    [turn] = otel.named("invoke_agent")
    chats = otel.named("chat ")
    [tool] = otel.named("execute_tool")
    assert len(chats) == 2
    assert tool.name == "execute_tool add"
    assert tool.kind is SpanKind.INTERNAL
    assert tool.parent is not None and tool.parent.span_id == turn.context.span_id
    a = tool.attributes or {}
    assert a[GA.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert a[GA.GEN_AI_TOOL_NAME] == "add"
    assert a[GA.GEN_AI_TOOL_CALL_ID] == conv.messages[2].tool_calls[0].id
    assert a[GA.GEN_AI_TOOL_TYPE] == "function"
    assert tuple(chats[0].attributes[GA.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)
    # In time order: the first call, the tool, the second call.
    assert chats[0].end_time <= tool.start_time and tool.end_time <= chats[1].start_time


async def test_a_stream_over_http(otel: Otel, mode: str) -> None:
    with ChatServer() as server:
        transport = OpenAITransport(server.url, api_key=KEY)
        conv = _conv(mode, transport)
        deltas = await _stream(conv, "Stream this")
        if mode == "async":
            await transport.aclose()
        transport.close()
    assert "".join(deltas) == "echo: Stream this"
    [chat] = otel.named("chat ")
    a = chat.attributes or {}
    assert a[GA.GEN_AI_REQUEST_STREAM] is True
    assert tuple(a[GA.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert a[GA.GEN_AI_USAGE_OUTPUT_TOKENS] == conv.messages[-1].text.count(" ") + 1
    assert a[GA.GEN_AI_RESPONSE_ID]
    assert otel.named("invoke_agent")[0].status.status_code is not StatusCode.ERROR


async def test_errors_are_recorded_with_error_type(otel: Otel, mode: str) -> None:
    with ChatServer() as server:
        server.script(error(429, "slow down"))
        transport = OpenAITransport(server.url, api_key=KEY, max_retries=0)
        conv = _conv(mode, transport)
        with pytest.raises(RateLimitError):
            await _send(conv, "Hello")
        if mode == "async":
            await transport.aclose()
        transport.close()
    [chat] = otel.named("chat ")
    [turn] = otel.named("invoke_agent")
    for span in (chat, turn):
        assert span.status.status_code is StatusCode.ERROR
        assert (span.attributes or {})[EA.ERROR_TYPE] == "RateLimitError"
    [operation] = otel.metric_points(GM.GEN_AI_CLIENT_OPERATION_DURATION)  # its labels
    assert operation.attributes[EA.ERROR_TYPE] == "RateLimitError"


async def test_a_stream_that_breaks_records_its_error(otel: Otel, mode: str) -> None:
    chunks = [{"choices": [{"index": 0, "delta": {"content": "Par"}}]}]
    fake = ScriptedTransport([*chunks, {"choices": "not a list"}])
    conv = _conv(mode, fake)
    with pytest.raises(convo.errors.ProtocolError):
        await _stream(conv, "x")
    [chat] = otel.named("chat ")
    assert chat.attributes[EA.ERROR_TYPE] == "ProtocolError"


async def test_a_tool_error_under_raise(otel: Otel, mode: str) -> None:
    @convo.tool
    def boom() -> str:
        """Fails."""
        raise RuntimeError("no")

    fake = ScriptedTransport(tool_calls(("boom", {})), "never")
    conv = _conv(mode, fake, tools=[boom], tool_errors="raise")
    with pytest.raises(convo.errors.ToolExecutionError):
        await _send(conv, "go")
    [tool] = otel.named("execute_tool")
    assert tool.attributes[EA.ERROR_TYPE] == "ToolExecutionError"
    assert otel.named("invoke_agent")[0].status.status_code is StatusCode.ERROR


async def test_leaving_a_stream_early_ends_the_spans_without_error(otel: Otel) -> None:
    fake = ScriptedTransport("one two three four")
    conv = _conv("sync", fake)
    for _ in conv.stream("x"):
        break
    [chat] = otel.named("chat ")
    assert chat.status.status_code is not StatusCode.ERROR
    assert len(otel.named("invoke_agent")) == 1


def test_content_is_captured_only_when_opted_in_and_keys_never(
    otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    conv = _conv("sync", ScriptedTransport(f"your key {KEY}"))
    conv.send(f"my key is {KEY}")
    [chat] = otel.named("chat ")
    a = chat.attributes or {}
    assert "my key is <scrubbed>" in a[GA.GEN_AI_INPUT_MESSAGES]
    assert "your key <scrubbed>" in a[GA.GEN_AI_OUTPUT_MESSAGES]
    assert all(KEY not in str(v) for s in otel.finished() for v in (s.attributes or {}).values())


CONFIGURED = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import convo
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
convo.Conversation(model="m", transport=convo.ScriptedTransport("hi")).send("hello")
print(sorted(s.name for s in exporter.get_finished_spans()))
"""

ABSENT = """
import sys
sys.modules["opentelemetry"] = None  # as if the extra were not installed
import convo
from convo import telemetry
assert telemetry.start(None, "id", None) is None
print(convo.Conversation(model="m", transport=convo.ScriptedTransport("hi")).send("x").text)
"""


NOT_IMPORTED = """
import sys
import convo
convo.Conversation(model="m", transport=convo.ScriptedTransport("hi")).send("x")
print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
"""


def _python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "") + os.pathsep + "."}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_tracing_is_on_once_a_provider_is_configured_and_off_without_opentelemetry() -> None:
    assert _python(CONFIGURED) == "['chat m', 'invoke_agent convo']"
    assert _python(ABSENT) == "hi"
    assert _python(NOT_IMPORTED) == "[]"  # installed, but convo never imports it


def test_the_turn_span_is_a_child_of_the_current_span(otel: Otel) -> None:
    tracer = otel.provider.get_tracer("app")
    conv = _conv("sync", ScriptedTransport("a", "b"))
    with tracer.start_as_current_span("request handler") as outer:
        conv.send("hi")
        stream = conv.stream("again")  # a stream's turn starts when it is iterated
    with tracer.start_as_current_span("later") as later:
        list(stream)
    first, second = otel.named("invoke_agent")
    assert first.parent is not None and first.parent.span_id == outer.get_span_context().span_id
    assert second.parent is not None and second.parent.span_id == later.get_span_context().span_id
