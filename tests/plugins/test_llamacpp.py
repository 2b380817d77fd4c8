"""The convo-llamacpp plugin against the real offline model: protocol and behaviour, not wording."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import require

require("llama_cpp", "needs llama-cpp-python")
require("convo_llamacpp", "needs the convo-llamacpp plugin")

from convo_llamacpp import transport_for
from convo_llamacpp.functions import render
from convo_llamacpp.transport import LlamaCppTransport
from convo_llamacpp.weights import DEFAULT_MODEL, GGUFFile, default_model_path

from convo import Conversation, Message, ParameterError, PluginError, Request
from convo.streaming import StreamAssembler
from convo.wire import build_body

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def request(
    text: str,
    params: dict[str, Any] | None = None,
    tools: tuple[Any, ...] = (),
    *,
    stream: bool = False,
) -> Request:
    messages = (Message.user(text),)
    params = {"temperature": 0, "max_tokens": 48, **(params or {})}
    body = build_body("local", messages, params, tools, stream=stream)
    return Request("local", messages, body, stream=stream, tools=tools)


@pytest.fixture(scope="module")
def local() -> LlamaCppTransport:
    return LlamaCppTransport()


def assemble(chunks: list[dict[str, Any]]) -> Any:
    asm = StreamAssembler()
    for chunk in chunks:
        asm.feed(chunk)
    return asm.finish()


# -- the model file ------------------------------------------------------------------


def test_the_default_model_is_assembled_and_matches_its_hash() -> None:
    path = default_model_path()
    assert path.stat().st_size == DEFAULT_MODEL.size
    assert path.name == DEFAULT_MODEL.filename


def _parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: list[bytes]) -> GGUFFile:
    import hashlib
    import uuid

    parts = []
    tag = uuid.uuid4().hex[:8]  # fresh package names: imported modules are cached per name
    for i, chunk in enumerate(data):
        package = tmp_path / "site" / f"fake_gguf_{tag}_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / "p.bin").write_bytes(chunk)
        parts.append((package.name, "data/p.bin"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(data)
    return GGUFFile("m.gguf", tuple(parts), len(whole), hashlib.sha256(whole).hexdigest())


def test_parts_are_joined_in_order_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _parts(tmp_path, monkeypatch, [b"GGUF" * 1000, b"middle", b"end" * 7])
    path = default_model_path(model, tmp_path / "cache")
    assert path.read_bytes() == b"GGUF" * 1000 + b"middle" + b"end" * 7
    # no temporary left; the stamp records what was verified
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.gguf", "m.gguf.verified"]


def test_a_hash_mismatch_is_an_error_and_nothing_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _parts(tmp_path, monkeypatch, [b"a", b"b"])
    bad = GGUFFile(model.filename, model.parts, model.size, "0" * 64)
    with pytest.raises(PluginError, match="SHA-256"):
        default_model_path(bad, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_corrupt_cached_file_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _parts(tmp_path, monkeypatch, [b"abc", b"def"])
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "m.gguf").write_bytes(b"abcdeX")
    assert default_model_path(model, tmp_path / "cache").read_bytes() == b"abcdef"


def test_a_verified_file_is_not_hashed_again_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convo_llamacpp import weights

    model = _parts(tmp_path, monkeypatch, [b"abc", b"def"])
    path = default_model_path(model, tmp_path / "cache")
    hashed: list[Path] = []
    real = weights.verify
    monkeypatch.setattr(weights, "verify", lambda p, *a: (hashed.append(p), real(p, *a)))
    weights._verified.clear()  # as in a new process
    assert default_model_path(model, tmp_path / "cache") == path
    assert hashed == []  # the stamp matched
    weights._verified.clear()
    path.write_bytes(b"abcdeX")  # tampered: the stamp no longer matches
    assert default_model_path(model, tmp_path / "cache").read_bytes() == b"abcdef"
    assert hashed  # so it was hashed, found wrong, and rebuilt


def test_a_missing_part_package_is_named(tmp_path: Path) -> None:
    model = GGUFFile("m.gguf", (("no_such_part_pkg", "x.bin"),), 1, "0" * 64)
    with pytest.raises(PluginError, match="no-such-part-pkg"):
        default_model_path(model, tmp_path)


def test_gguf_prefix_and_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = transport_for(f"gguf:{tmp_path}/none.gguf")
    assert transport.model_path == f"{tmp_path}/none.gguf"
    with pytest.raises(ParameterError, match=r"none\.gguf"):
        transport.complete(request("hi"))
    monkeypatch.setenv("CONVO_LLAMACPP_MODEL", str(tmp_path / "env.gguf"))
    with pytest.raises(ParameterError, match=r"env\.gguf"):
        transport_for("local").complete(request("hi"))


# -- the prompt ----------------------------------------------------------------------


def test_tool_results_and_calls_are_shown_to_the_model() -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    prompt = render(
        [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "Sunny, 31 C"},
        ],
        [WEATHER],
    )
    assert 'functions.get_weather:\n{"city": "Paris"}' in prompt
    assert "<tool_response>\nSunny, 31 C\n</tool_response>" in prompt
    assert "You have access to the following functions" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_unsupported_parameters_are_refused(local: LlamaCppTransport) -> None:
    with pytest.raises(ParameterError, match=r"n=1"):
        local.complete(request("hi", {"n": 2}))
    with pytest.raises(ParameterError, match="logit_bias"):
        local.complete(request("hi", {"logit_bias": {"1": 2}}))
    with pytest.raises(ParameterError, match="nope"):
        local.complete(
            request(
                "hi",
                {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
                (WEATHER,),
            )
        )


# -- the real model ------------------------------------------------------------------


def test_a_reply_with_usage(local: LlamaCppTransport) -> None:
    reply = local.complete(request("Name three primary colours."))
    assert reply.text.strip()
    assert reply.finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 5
    assert reply.usage.completion_tokens > 0


def test_streaming_gives_a_reply_and_usage(local: LlamaCppTransport) -> None:
    whole = local.complete(request("Count from 1 to 5."))
    chunks = list(local.stream(request("Count from 1 to 5.", stream=True)))
    streamed = assemble(chunks)
    assert len(chunks) > 3
    # The digits, not the exact text: with the KV cache reused, a build may choose
    # other punctuation at temperature 0 (see test_async_reply_and_stream).
    assert "1" in streamed.text and "5" in streamed.text, (streamed.text, whole.text)
    assert streamed.usage is not None
    assert streamed.usage.completion_tokens > 0


def test_a_forced_tool_call_has_valid_arguments(local: LlamaCppTransport) -> None:
    reply = local.complete(
        request("What is the weather in Paris?", {"tool_choice": FORCE_WEATHER}, (WEATHER,))
    )
    assert reply.finish_reason == "tool_calls"
    [call] = reply.tool_calls
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args["city"], str)
    assert call.id


def test_a_streamed_tool_call_assembles(local: LlamaCppTransport) -> None:
    chunks = list(
        local.stream(
            request("Weather in Oslo?", {"tool_choice": FORCE_WEATHER}, (WEATHER,), stream=True)
        )
    )
    reply = assemble(chunks)
    [call] = reply.tool_calls
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_with_tools_offered_a_plain_answer_is_free_text(local: LlamaCppTransport) -> None:
    # llama-cpp-python's own handler answers "functions.get_weather:" here.
    for reply in (
        local.complete(request("Say hello to Bob.", {}, (WEATHER,))),
        assemble(list(local.stream(request("Say hello to Bob.", {}, (WEATHER,), stream=True)))),
    ):
        assert reply.finish_reason == "stop"
        assert not reply.tool_calls
        assert reply.text.strip()
        assert "functions." not in reply.text


def test_json_schema_output_is_constrained(local: LlamaCppTransport) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    reply = local.complete(
        request("Give a person named Ada aged 36.", {"response_format": fmt, "max_tokens": 64})
    )
    data = json.loads(reply.text)
    assert isinstance(data["name"], str)
    assert isinstance(data["age"], int)


async def test_async_reply_and_stream(local: LlamaCppTransport) -> None:
    # Not the same text: llama.cpp reuses the previous prompt's KV cache, and a
    # build's numerics may then pick another token even at temperature 0 (seen:
    # "Yes." then "Yes"). The protocol is what this checks.
    reply = await local.acomplete(request("Say yes."))
    assert reply.text.strip()
    assert reply.finish_reason in ("stop", "length")
    chunks = [c async for c in local.astream(request("Say yes.", stream=True))]
    streamed = assemble(chunks)
    assert streamed.text.strip()
    assert streamed.finish_reason in ("stop", "length")
    assert len(chunks) > 1


def test_resolved_through_the_plugin_system() -> None:
    from convo import models

    assert "llamacpp" in [p.name for p in __import__("convo.plugins").plugins.plugins()]
    assert models.resolve("local") == "qwen2.5-coder-0.5b"
    assert isinstance(models.get_transport("local"), LlamaCppTransport)
    assert isinstance(models.get_transport("gguf:/x.gguf"), LlamaCppTransport)
    assert sys.modules["convo_llamacpp"].LOCAL_MODEL == "qwen2.5-coder-0.5b"


def test_the_transport_declares_the_window_it_opens_the_model_with() -> None:
    assert LlamaCppTransport(n_ctx=4096).context_window("local") == 4096 - 256
    assert LlamaCppTransport(n_ctx=512).context_window("local") == 512 - 64
    conv = Conversation("Be brief.", model="local", transport=LlamaCppTransport(n_ctx=1536))
    assert conv.prepare("Hi").budget == 1344 - 1344 // 8  # a window of 1536 - 1536 // 8


def test_the_local_model_counts_with_its_own_tokenizer_exactly() -> None:
    from convo.tokens import encodings

    built = dict(encodings._loaded)
    local = LlamaCppTransport()
    assert local.token_counter("local").exact
    with Conversation("Be brief.", model="local", transport=local) as conv:
        conv.send("Bonjour, le ciel est bleu? Réponds en un mot.", max_tokens=4)
        reply = conv.send("Und jetzt auf Deutsch, bitte.", max_tokens=4)
    assert reply.usage is not None
    # convo's count of the prompt is the one llama.cpp reports for it.
    assert reply.prompt_tokens_local == reply.usage.prompt_tokens
    assert encodings._loaded == built  # no tiktoken encoding was built for it


def test_a_history_longer_than_the_window_is_trimmed_not_refused_by_llama() -> None:
    # French counts a third more with Qwen's tokenizer than with tiktoken: the worst
    # case measured for the margin the transport keeps back.
    paste = "Le ciel est bleu parce que la lumière du soleil est diffusée par l'air. " * 12
    local = LlamaCppTransport(n_ctx=512)
    with Conversation("Be brief.", model="local", transport=local) as conv:
        for n in range(3):
            reply = conv.send(f"{n}: {paste}", max_tokens=8, temperature=0)
            assert reply.finish_reason in ("stop", "length")
        assert conv.prepare(paste, max_tokens=8).dropped
        assert len(conv.history) == 6


# -- the function-calling format never reaches a saved reply -------------------------


def test_a_reply_saved_with_tools_offered_holds_no_scaffolding(tmp_path: Path) -> None:
    # At temperature 0 the model answers this after "message:" with another "message:"
    # and then "functions.get_weather:" (see fixtures/llamacpp_raw_outputs.json).
    from convo import SQLStore

    calls: list[str] = []

    def get_weather(city: str) -> str:
        """Get the current weather for a city"""
        calls.append(city)
        return f"Sunny in {city}, 21 C"

    url = f"sqlite:///{tmp_path / 'c.db'}"
    with (
        SQLStore(url) as store,
        Conversation(
            model="local",
            transport=LlamaCppTransport(),
            tools=[get_weather],
            store=store,
            max_tool_rounds=2,
            on_max_tool_rounds="answer",
        ) as conv,
    ):
        conv.send("Tell me a joke, then check the weather in Rome.", temperature=0, max_tokens=64)
        saved = store.load(conv.id).messages
    marker = re.compile(r"""(?m)^[ \t"'`]*(message:|functions\.[A-Za-z_])""")
    for m in saved:
        assert not marker.search(m.text or ""), m
    assert calls and calls[0] == "Rome", "the call the model wrote was never made"
    assert any(m.role == "tool" for m in saved)
