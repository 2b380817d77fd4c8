"""A transport that runs a GGUF model in this process, through llama-cpp-python.

The model is loaded on first use, once per file and settings, and shared by every
transport that names it. A ``llama_cpp.Llama`` is not re-entrant, so one lock per
loaded model serialises its calls (a stream holds it until it ends or is closed);
the async methods are the base class's, each call in a worker thread.

Plain requests go through the model's own chat template. Requests with ``tools``
use the function-calling format of :mod:`convo_llamacpp.functions`. Structured
output is grammar-constrained: ``response_format`` ``json_schema`` is turned into
llama-cpp-python's ``{"type": "json_object", "schema": ...}``.

Example::

    with LlamaCppTransport() as local:   # the default model, assembled and verified
        conv = Conversation("Be brief.", model="qwen2.5-coder-0.5b", transport=local)
        print(conv.send("Hi").text)
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from llama_cpp import Llama

from convo.errors import ParameterError
from convo.reply import Reply
from convo.request import Request
from convo.tokens import TokenCounter
from convo.transports.base import Chunk, Transport
from convo.wire import parse_completion
from convo_llamacpp.functions import chat_with_tools
from convo_llamacpp.loading import open_model
from convo_llamacpp.weights import default_model_path

__all__ = ["ENV_MODEL", "ENV_N_CTX", "LlamaCppTransport", "n_ctx_from_env"]

ENV_MODEL = "CONVO_LLAMACPP_MODEL"
"""Environment variable naming a GGUF file to use instead of the default model."""

ENV_N_CTX = "CONVO_LLAMACPP_N_CTX"
"""Environment variable setting the context size the model is opened with."""

DEFAULT_N_CTX = 4096
# Tokens of a prompt that the counter does not see, kept free of the window: Qwen's
# default system prompt (24) or the function-calling instructions beyond convo's
# estimate of the tool schemas (about 100 for one tool).
_UNCOUNTED = 256


def n_ctx_from_env(value: str | None) -> int:
    """The context size ``$CONVO_LLAMACPP_N_CTX`` asks for, else the default.

    >>> n_ctx_from_env("2048"), n_ctx_from_env(None)
    (2048, 4096)
    """
    if not value:
        return DEFAULT_N_CTX
    try:
        n_ctx = int(value)
    except ValueError:
        n_ctx = 0
    if n_ctx < 64:
        raise ParameterError(f"{ENV_N_CTX} must be a whole number >= 64, got {value!r}")
    return n_ctx


# OpenAI parameters and the llama.cpp sampling extensions that create_completion takes.
_SAMPLING = frozenset(
    {
        "temperature", "top_p", "top_k", "min_p", "typical_p", "max_tokens", "stop", "seed",
        "presence_penalty", "frequency_penalty", "repeat_penalty",
    }
)  # fmt: skip
# Said in a request but meaningless for a local model: accepted and left out.
_IGNORED = frozenset(
    {"model", "stream", "stream_options", "parallel_tool_calls", "user", "store", "metadata",
     "service_tier"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Tokens:
    """The model's own tokenizer, as convo's counter uses a tiktoken encoding."""

    name: str
    llm: Llama

    def encode_ordinary(self, text: str) -> list[int]:
        # special=False: text that spells "<|im_end|>" is counted as the text it is.
        data = text.encode("utf-8", "surrogatepass")
        return list(self.llm.tokenize(data, add_bos=False, special=False))


@dataclass(slots=True)
class _Loaded:
    llm: Llama
    lock: threading.Lock = field(default_factory=threading.Lock)
    counters: dict[str, TokenCounter] = field(default_factory=dict)


_models: dict[tuple[Any, ...], _Loaded] = {}
_models_lock = threading.Lock()


def _load(key: tuple[Any, ...], path: Path, kwargs: dict[str, Any]) -> _Loaded:
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            loaded = _models[key] = _Loaded(open_model(path, kwargs))
        return loaded


class LlamaCppTransport(Transport):
    """Runs a GGUF chat model in-process; sync, async, streaming and tool calls.

    ``model_path`` defaults to ``$CONVO_LLAMACPP_MODEL``, else to the verified
    Qwen2.5-Coder-0.5B-Instruct that the plugin assembles into the cache.
    """

    structured_output = "json_schema"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        chat_format: str | None = None,
        n_threads: int | None = None,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.chat_format = chat_format
        self.n_threads = n_threads
        self.seed = seed
        self.verbose = verbose

    def __repr__(self) -> str:
        return f"LlamaCppTransport(model_path={self.model_path!r})"

    def context_window(self, model: str) -> int:
        """The window convo budgets with: the ``n_ctx`` the model is opened with, less
        what :meth:`token_counter` cannot see (a chat template's default system prompt,
        the tool-calling format's instructions)::

            >>> LlamaCppTransport(n_ctx=4096).context_window("local")
            3840
        """
        return self.n_ctx - min(_UNCOUNTED, self.n_ctx // 8)

    def token_counter(self, model: str) -> TokenCounter:
        """A counter that uses the model's own tokenizer, through llama.cpp (no tiktoken).

        Each message is framed as ChatML frames it (``<|im_start|>role\\n`` ...
        ``<|im_end|>\\n``: 4 tokens besides the role), so for ChatML models (the default
        one is) a prompt's count is the one llama.cpp reports. It loads the model,
        which the reply needs anyway.
        """
        loaded = self._model()
        counter = loaded.counters.get(model)
        if counter is None:
            tokens = _Tokens(f"llama.cpp:{self._path().name}", loaded.llm)
            counter = TokenCounter(model, tokenizer=tokens, exact=True, tokens_per_message=4)
            loaded.counters[model] = counter
        return counter

    def _path(self) -> Path:
        given = self.model_path or os.environ.get(ENV_MODEL)
        if not given:
            return default_model_path()
        path = Path(given).expanduser()
        if not path.is_file():
            raise ParameterError(f"no GGUF model file at {str(path)!r}", param="model_path")
        return path

    def _model(self) -> _Loaded:
        path = self._path().resolve()
        kwargs = {
            "n_ctx": self.n_ctx,
            "chat_format": self.chat_format,
            "n_threads": self.n_threads,
            "seed": self.seed,
            "verbose": self.verbose,
        }
        return _load((path, *sorted(kwargs.items())), path, kwargs)

    def _run(self, llm: Llama, body: Mapping[str, Any], stream: bool) -> Any:
        gen, messages = _arguments(body)
        tools = body.get("tools") or []
        tool_choice = body.get("tool_choice")
        if tools and tool_choice != "none":
            return chat_with_tools(llm, messages, tools, tool_choice, gen, stream=stream)
        if "response_format" in body:
            gen["response_format"] = _response_format(body["response_format"])
        native = cast(Any, _native(messages))
        return llm.create_chat_completion(messages=native, stream=stream, **gen)

    def complete(self, request: Request) -> Reply:
        loaded = self._model()
        with loaded.lock:
            data = self._run(loaded.llm, request.body, stream=False)
        return parse_completion(data)

    def stream(self, request: Request) -> Iterator[Chunk]:
        loaded = self._model()
        options = request.body.get("stream_options") or {}
        with loaded.lock:
            pieces: list[str] = []
            chunk: dict[str, Any] = {}
            for chunk in cast(Iterator[dict[str, Any]], self._run(loaded.llm, request.body, True)):
                for choice in chunk.get("choices", ()):
                    delta = choice.get("delta") or {}
                    pieces.append(delta.get("content") or "")
                    for call in delta.get("tool_calls") or ():
                        pieces.append(call["function"]["arguments"])
                yield chunk
            if options.get("include_usage"):
                yield {**_head(chunk), "choices": [], "usage": _usage(loaded.llm, "".join(pieces))}


def _head(chunk: Mapping[str, Any]) -> dict[str, Any]:
    return {k: chunk[k] for k in ("id", "object", "created", "model") if k in chunk}


def _usage(llm: Llama, completion: str) -> dict[str, int]:
    # A stream carries no usage; the context after it holds prompt + completion.
    done = len(llm.tokenize(completion.encode(), add_bos=False, special=True)) if completion else 0
    prompt = max(0, llm.n_tokens - done)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _arguments(body: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    gen: dict[str, Any] = {}
    for key, value in body.items():
        if key in _SAMPLING:
            gen[key] = value
        elif key == "max_completion_tokens":
            gen["max_tokens"] = value
        elif key == "n" and value != 1:
            raise ParameterError("llama.cpp gives one choice per request (n=1)", param="n")
        elif key not in _IGNORED and key not in (
            "messages",
            "tools",
            "tool_choice",
            "n",
            "response_format",
        ):
            raise ParameterError(f"the llama.cpp transport does not support {key!r}", param=key)
    return gen, list(body.get("messages") or [])


def _response_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    if kind in ("json_object", "text"):
        return dict(fmt)
    raise ParameterError(f"response_format type {kind!r} is not supported", param="response_format")


def _native(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Chat templates written for Hugging Face (Qwen's among them) expect tool-call
    # arguments as an object; given the wire's JSON string they would encode it twice.
    out = []
    for m in messages:
        calls = m.get("tool_calls")
        if calls:
            m = {**m, "tool_calls": [_decoded(c) for c in calls]}
        out.append(m)
    return out


def _decoded(call: Mapping[str, Any]) -> dict[str, Any]:
    fn = dict(call.get("function") or {})
    with contextlib.suppress(json.JSONDecodeError):  # else shown to the model as it was sent
        fn["arguments"] = json.loads(fn.get("arguments") or "{}")
    return {**call, "function": fn}
