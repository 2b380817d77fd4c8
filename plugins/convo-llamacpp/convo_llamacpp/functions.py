"""Tool calls on a ChatML model, the way llama.cpp's "chatml-function-calling" does them.

The model is shown the functions in its system message and must begin its answer
with ``functions.<name>:`` or ``message:``. That first choice is constrained by a
grammar, the arguments by a grammar made from the function's JSON schema, so a
tool call always names a known tool and its arguments always parse.

This is llama-cpp-python's own format (``llama_chat_format.chatml_function_calling``),
re-done here because its handler (0.3.36) has three faults that break a
conversation: with ``tool_choice="auto"`` a plain answer is forced through the
function-name grammar (asked "Say hello", it answers ``functions.get_weather:``);
tool results (``role: "tool"``) are left out of the prompt; and streaming with
``"auto"`` is refused. Here a plain answer is free text, tool results are shown to
the model the way Qwen's own template does (a user turn holding
``<tool_response>``), and every path streams.

>>> print(render([{"role": "user", "content": "Hi"}], []))
<|im_start|>system
You are a helpful assistant.<|im_end|>
<|im_start|>user
Hi<|im_end|>
<|im_start|>assistant
<BLANKLINE>
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from llama_cpp import Llama
from llama_cpp.llama_grammar import LlamaGrammar

from convo.errors import ParameterError
from convo_llamacpp.scaffolding import MESSAGE, Scaffolding

__all__ = ["END", "chat_with_tools", "render"]

END = "<|im_end|>"
_DEFAULT_SYSTEM = "You are a helpful assistant."
_FORMAT = (
    "\n\nYou can respond to users messages with either a single message or one or more"
    " function calls."
    "\n\nTo respond with a message begin the message with 'message:', use the following"
    " format:\n\nmessage:\n<message>"
    "\n\nTo respond with one or more function calls begin the message with"
    " 'functions.<function_name>:', use the following format:"
    '\n\nfunctions.<function_name>:\n{ "arg1": "value1", "arg2": "value2" }'
)


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))


def _functions_block(tools: Sequence[Mapping[str, Any]]) -> str:
    lines = ["\n\nYou have access to the following functions:\n"]
    for tool in tools:
        fn = tool["function"]
        lines.append(f"\nfunctions.{fn['name']}:")
        lines.append(f"\n{json.dumps(fn.get('parameters') or {'type': 'object'})}\n")
    return "".join(lines) + _FORMAT


def render(messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]]) -> str:
    """The ChatML prompt for ``messages`` (wire dicts), with ``tools`` in the system turn."""
    if not messages or messages[0].get("role") != "system":
        messages = [{"role": "system", "content": _DEFAULT_SYSTEM}, *messages]
    block = _functions_block(tools) if tools else ""
    out: list[str] = []
    for i, m in enumerate(messages):
        role, content = m.get("role"), _text(m.get("content"))
        if role in ("system", "developer"):
            # Only the first system turn lists the functions; a later one is an instruction.
            out.append(f"<|im_start|>system\n{content}{block if i == 0 else ''}{END}\n")
        elif role == "user":
            out.append(f"<|im_start|>user\n{content}{END}\n")
        elif role == "assistant":
            parts = [f"message:\n{content}" if tools else content] if content else []
            for call in m.get("tool_calls") or ():
                fn = call["function"]
                parts.append(f"functions.{fn['name']}:\n{fn['arguments']}")
            out.append(f"<|im_start|>assistant\n{chr(10).join(parts)}{END}\n")
        elif role == "tool":
            out.append(f"<|im_start|>user\n<tool_response>\n{content}\n</tool_response>{END}\n")
        else:
            raise ParameterError(f"message {i}: unknown role {role!r}", param="messages")
    out.append("<|im_start|>assistant\n")
    return "".join(out)


def _choice_grammar(names: Sequence[str], allow_message: bool) -> LlamaGrammar:
    options = " | ".join(json.dumps(f"functions.{n}:") for n in names)
    root = 'functions | "message:"' if allow_message else "functions"
    return LlamaGrammar.from_string(f"root ::= {root}\nfunctions ::= {options}\n", verbose=False)


def _chosen_tool(tools: Sequence[Mapping[str, Any]], tool_choice: Any) -> str | None:
    if isinstance(tool_choice, Mapping):
        name = str((tool_choice.get("function") or {}).get("name", ""))
        if name not in {t["function"]["name"] for t in tools}:
            raise ParameterError(
                f"tool_choice names {name!r}, which is not in tools", param="tool_choice"
            )
        return name
    if tool_choice in (None, "auto", "required"):
        return None
    raise ParameterError(f"tool_choice {tool_choice!r} is not supported", param="tool_choice")


def chat_with_tools(
    llm: Llama,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]],
    tool_choice: Any,
    gen: dict[str, Any],
    *,
    stream: bool,
) -> dict[str, Any] | Iterator[dict[str, Any]]:
    """A chat completion (or its chunks) where the model may call one of ``tools``.

    ``gen`` holds ``create_completion`` arguments (temperature, max_tokens, stop...).
    """
    prompt = render(messages, tools)
    gen = {"max_tokens": None, **gen}  # create_completion's default is 16 tokens
    name = _chosen_tool(tools, tool_choice)
    names = [t["function"]["name"] for t in tools]
    if name is None:
        # The choice itself is made greedily, as llama.cpp does: it is one of a few strings.
        first = cast(
            dict[str, Any],
            llm.create_completion(
                prompt,
                temperature=0,
                max_tokens=32,
                grammar=_choice_grammar(names, allow_message=tool_choice != "required"),
            ),
        )
        decision = first["choices"][0]["text"]
        if decision.startswith("functions."):
            name = decision[len("functions.") : -1]
    if name is None:
        # After a tool's result, the 0.5B model writes the same call into its text
        # round after round (seen: ten rounds, then ToolRoundsExceededError); a
        # further call is then only one the format's first choice made.
        answered = bool(messages) and messages[-1].get("role") == "tool"
        chunks = _answer(llm, prompt, () if answered else tools, gen)
        return chunks if stream else _collected(llm, prompt, chunks)
    completion = _tool_completion(
        name, _arguments(llm, f"{prompt}functions.{name}:\n", tools, name, gen)
    )
    return _as_chunks(completion) if stream else completion


def _arguments(
    llm: Llama, prompt: str, tools: Sequence[Mapping[str, Any]], name: str, gen: dict[str, Any]
) -> dict[str, Any]:
    """The completion of a call's arguments, under the grammar of the tool's schema."""
    tool = next(t for t in tools if t["function"]["name"] == name)
    schema = json.dumps(tool["function"].get("parameters") or {"type": "object"})
    try:
        grammar = LlamaGrammar.from_json_schema(schema, verbose=False)
    except Exception as exc:  # llama.cpp's converter raises bare errors on schemas it lacks
        raise ParameterError(
            f"tool {name!r}: its schema cannot be turned into a grammar ({exc})", param="tools"
        ) from None
    return cast(
        dict[str, Any],
        llm.create_completion(prompt, **{**gen, "stop": [END]}, grammar=grammar),
    )


def _answer(
    llm: Llama, prompt: str, tools: Sequence[Mapping[str, Any]], gen: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Chunks of a free-text answer, the format's markers kept out (see scaffolding).

    When the text goes on to call an offered tool, the text ends there and the call's
    arguments are generated under its schema, as if the model had chosen it first.
    """
    prompt += f"{MESSAGE}\n"
    stop = [*_as_list(gen.get("stop")), END]
    scaffolding = Scaffolding(t["function"]["name"] for t in tools)
    pieces = cast(
        Iterator[dict[str, Any]],
        llm.create_completion(prompt, **{**gen, "stop": stop}, stream=True),
    )
    head: dict[str, Any] | None = None
    shown: list[str] = []
    reason = "stop"
    try:
        for chunk in pieces:
            if head is None:
                head = _base(chunk, "chat.completion.chunk")
                yield _delta(head, {"role": "assistant", "content": ""})
            choice = chunk["choices"][0]
            text = scaffolding.feed(choice["text"])
            if text:
                shown.append(text)
                yield _delta(head, {"content": text})
            if scaffolding.done:
                break  # generating the format's arguments as text would be waste
            reason = choice.get("finish_reason") or reason
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    head = head or _base({}, "chat.completion.chunk")
    text = scaffolding.finish()
    if text:
        shown.append(text)
        yield _delta(head, {"content": text})
    if scaffolding.call is None:
        yield _delta(head, {}, reason)
        return
    said = "".join(shown)
    args = _arguments(
        llm, f"{prompt}{said}\nfunctions.{scaffolding.call}:\n", tools, scaffolding.call, gen
    )
    call = _tool_completion(scaffolding.call, args)["choices"][0]["message"]["tool_calls"][0]
    yield _delta(head, {"tool_calls": [{"index": 0, **call}]})
    yield _delta(head, {}, "tool_calls")


def _delta(
    head: Mapping[str, Any], delta: dict[str, Any], reason: str | None = None
) -> dict[str, Any]:
    return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}


def _collected(llm: Llama, prompt: str, chunks: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """The chat completion the chunks of :func:`_answer` add up to, with its usage."""
    content: list[str] = []
    calls: list[dict[str, Any]] = []
    reason = "stop"
    head: dict[str, Any] = {}
    for chunk in chunks:
        head = chunk
        choice = chunk["choices"][0]
        delta = choice["delta"]
        content.append(delta.get("content") or "")
        calls.extend(
            {k: v for k, v in c.items() if k != "index"} for c in delta.get("tool_calls") or ()
        )
        reason = choice.get("finish_reason") or reason
    text = "".join(content)
    said = text + "".join(c["function"]["arguments"] for c in calls)
    prompt_tokens = _count(llm, prompt)
    completion_tokens = _count(llm, said)
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    else:
        message["content"] = text
    return {
        **{k: head.get(k) for k in ("id", "created", "model")},
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _count(llm: Llama, text: str) -> int:
    return len(llm.tokenize(text.encode(), add_bos=False, special=True)) if text else 0


def _as_list(stop: Any) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def _base(source: Mapping[str, Any], obj: str) -> dict[str, Any]:
    return {
        "id": "chat" + str(source.get("id") or uuid.uuid4().hex),
        "object": obj,
        "created": source.get("created") or int(time.time()),
        "model": source.get("model"),
    }


def _tool_completion(name: str, c: Mapping[str, Any]) -> dict[str, Any]:
    call = {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": name, "arguments": c["choices"][0]["text"].strip()},
    }
    return {
        **_base(c, "chat.completion"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": c.get("usage"),
    }


def _as_chunks(completion: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    head = {k: completion[k] for k in ("id", "created", "model")}
    head["object"] = "chat.completion.chunk"
    call = completion["choices"][0]["message"]["tool_calls"][0]
    yield {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]}
    yield {
        **head,
        "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, **call}]}}],
    }
    yield {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
