"""Counting the tokens of chat messages and tool schemas, each message once in its life.

The message formula is OpenAI's (cookbook "How to count tokens with tiktoken"):
``tokens_per_message`` + the tokens of the role and of each value + ``tokens_per_name``
when a name is given, and 3 more for the reply's priming. It reproduces the prompt
tokens the API reported for the cookbook's examples exactly. Parts with no published
rule are estimated on the safe side (see ``docs/budget.md``): tool calls, tool schemas,
images, and every model that is not OpenAI's (there ``TokenCounter.exact`` is False).

A message is frozen, so its count is cached on it per encoding and overhead variant:
a history is counted once, whatever the number of requests built from it.

>>> counter = TokenCounter("gpt-4o")
>>> counter.messages([Message.system("You are terse."), Message.user("Hi!")])
17
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, get_args

from convo.messages import ImagePart, Message, MessageLike, Role, TextPart, to_messages
from convo.tokens.encodings import encoding_name_for_model, get_encoding, is_openai_model
from convo.tokens.schemas import render_tools

__all__ = [
    "IMAGE_TOKENS",
    "IMAGE_TOKENS_LOW",
    "REPLY_PRIMING",
    "RULES_VERSION",
    "TokenCounter",
    "Tokenizer",
    "count_tokens",
    "counter_for",
]

# The version of the counting rules, part of every cached count's key: a release that
# changes how a message is counted bumps it, and counts cached (in memory, in a store,
# in an export) under older rules are recounted instead of reused.
RULES_VERSION = "r1"

#: Every reply is primed with ``<|start|>assistant<|message|>``.
REPLY_PRIMING = 3
#: An image at ``detail="low"`` costs 85 tokens on gpt-4o-class models.
IMAGE_TOKENS_LOW = 85
#: An image at "high" or "auto" detail: the most a gpt-4o-class image can cost
#: (85 + 170 per 512-pixel tile, 8 tiles at most). Pixels are not read: safe side.
IMAGE_TOKENS = 1445

# Tool calls have no published rule. One call measured 1 token over its name and
# arguments (gpt-4, 2024); several calls travel in a JSON wrapper that names each
# recipient, estimated from the wrapper's text. Both are rounded up.
_ONE_CALL = 4
_PER_PARALLEL_CALL = 12
_PARALLEL_WRAPPER = 13
# A tool answer is shown under its function's name; without ``name`` on the message the
# name is unknown, so allow for a typical one.
_TOOL_AUTHOR = 8
# The namespace text plus 9; a system message already present absorbs 4 of them.
_TOOLS_EXTRA = 9
_TOOLS_WITH_SYSTEM = -4

# tiktoken's regex engine overflows (a PanicException, which is a BaseException) on a
# run of about 1,000,000 whitespace characters. Runs far shorter than that are split
# before encoding; texts shorter than a run cannot hold one and are not scanned.
_LONG_RUN = 100_000
_LONG_WHITESPACE = re.compile(rf"(?<!\s)\s{{{_LONG_RUN},}}")


class Tokenizer(Protocol):
    """What a counter needs of a tokenizer: a ``tiktoken.Encoding`` is one.

    A transport that knows its model's own tokenizer (the local llama.cpp one does)
    offers a counter built on it through ``token_counter(model)``; ``name`` is part
    of the key that cached counts are stored under.
    """

    @property
    def name(self) -> str: ...

    def encode_ordinary(self, text: str) -> list[int]: ...


class TokenCounter:
    """Counts tokens for one model: messages (cached on them), tool schemas, prompts.

    ``exact`` is True for OpenAI's models, where the message formula is the one the API
    applies; for other models the count uses a close encoding and is an estimate.
    ``tokenizer`` counts with the model's own tokenizer instead of a tiktoken encoding
    (no encoding is then built); ``exact`` and ``tokens_per_message`` (the tokens that
    frame each message in the model's chat format) say how far that count is exact.

    >>> c = TokenCounter("gpt-4")
    >>> c.encoding.name, c.exact
    ('cl100k_base', True)
    >>> TokenCounter("llama3.1:8b").exact
    False
    """

    def __init__(
        self,
        model: str,
        *,
        encoding: str | None = None,
        tokenizer: Tokenizer | None = None,
        exact: bool | None = None,
        tokens_per_message: int | None = None,
    ) -> None:
        self.model = model
        self.encoding: Tokenizer = (
            tokenizer
            if tokenizer is not None
            else get_encoding(encoding or encoding_name_for_model(model))
        )
        self.exact = is_openai_model(model) if exact is None else exact
        # gpt-3.5-turbo-0301 wrote "<|im_start|>{role or name}\n{content}<|im_end|>\n".
        if model.rsplit("/", 1)[-1].startswith("gpt-3.5-turbo-0301"):
            self.tokens_per_message, self.tokens_per_name = 4, -1
        else:
            self.tokens_per_message, self.tokens_per_name = 3, 1
        if tokens_per_message is not None:
            self.tokens_per_message = tokens_per_message
        self._key = (
            f"{RULES_VERSION}:{self.encoding.name}:{self.tokens_per_message}:{self.tokens_per_name}"
        )
        self._tools: dict[str, int] = {}
        self._tools_lock = threading.Lock()
        # Each message's frame and role, counted once per counter instead of once per
        # message: a new conversation counts every message it is given.
        self._framing = {
            role: self.tokens_per_message + _count_text(self.encoding, role)
            for role in get_args(Role)
        }

    @property
    def key(self) -> str:
        """What the count of a message depends on: encoding and per-message constants."""
        return self._key

    def __repr__(self) -> str:
        return f"TokenCounter({self.model!r}, encoding={self.encoding.name!r}, exact={self.exact})"

    def text(self, text: str) -> int:
        """Tokens of a plain text (special-token text such as ``<|endoftext|>`` is ordinary).

        >>> TokenCounter("gpt-4o").text("<|endoftext|>")
        7
        """
        return _count_text(self.encoding, text)

    def message(self, m: Message) -> int:
        """Tokens of one message, its per-message overhead included; counted once, then cached.

        >>> TokenCounter("gpt-4o").message(Message.user("Hello!"))
        6
        """
        cache = _cache_of(m)
        n = cache.get(self._key)
        if n is None:
            n = self._count(m)
            cache[self._key] = n
        return n

    def messages(self, ms: Iterable[Message]) -> int:
        """Tokens of the messages as a prompt: each message, plus the reply's priming."""
        return sum(map(self.message, ms)) + REPLY_PRIMING

    def tools(self, schemas: Sequence[Mapping[str, Any]], *, has_system: bool) -> int:
        """Tokens that a ``tools`` list adds to a prompt (0 for none); an estimate, safe side.

        ``has_system``: whether the prompt holds a system message (it absorbs 4 tokens).
        """
        if not schemas:
            return 0
        key = json.dumps(list(schemas), sort_keys=True, default=str)
        n = self._tools.get(key)
        if n is None:
            n = _count_text(self.encoding, render_tools(schemas)) + _TOOLS_EXTRA
            with self._tools_lock:
                if len(self._tools) >= 64:  # a conversation uses a handful of tool sets
                    self._tools.clear()
                self._tools[key] = n
        return n + (_TOOLS_WITH_SYSTEM if has_system else 0)

    def prompt(self, messages: Iterable[Message], tools: Sequence[Mapping[str, Any]] = ()) -> int:
        """Tokens of a whole prompt: the messages, their priming, and the tool schemas.

        >>> TokenCounter("gpt-4o").prompt([Message.user("Hi")])
        8
        """
        ms = list(messages)
        has_system = any(m.role == "system" for m in ms)
        return self.messages(ms) + self.tools(tools, has_system=has_system)

    def _count(self, m: Message) -> int:
        text = self.text
        n = self._framing[m.role]
        content = m.content
        if isinstance(content, str):
            n += text(content)
        elif content:
            for part in content:
                if isinstance(part, TextPart):
                    n += text(part.text)
                elif isinstance(part, ImagePart):
                    low = part.image_url.detail == "low"
                    n += IMAGE_TOKENS_LOW if low else IMAGE_TOKENS
        if m.name:
            n += text(m.name) + self.tokens_per_name
        elif m.role == "tool":
            n += _TOOL_AUTHOR
        if m.refusal:
            n += text(m.refusal)
        calls = m.tool_calls or ()
        for call in calls:
            n += text(call.function.name) + text(call.function.arguments)
        if len(calls) == 1:
            n += _ONE_CALL
        elif calls:
            n += _PARALLEL_WRAPPER + _PER_PARALLEL_CALL * len(calls)
        return n


def _cache_of(m: Message) -> dict[str, int]:
    # The private-state mapping read directly takes 50 ns, against ~1 us through the
    # property: the difference between walking a long history in micro- or milliseconds.
    private = m.__pydantic_private__
    if private is None:  # caches are made on first use
        return m._tokens
    cache: dict[str, int] = private["_tokens"]
    return cache


def _count_text(encoding: Tokenizer, text: str) -> int:
    if len(text) < _LONG_RUN:
        return len(encoding.encode_ordinary(text))
    pieces: list[str] = []
    start = 0
    for run in _LONG_WHITESPACE.finditer(text):
        pieces.append(text[start : run.start()])
        pieces.extend(run[0][i : i + _LONG_RUN] for i in range(0, len(run[0]), _LONG_RUN))
        start = run.end()
    pieces.append(text[start:])
    # Counts add up only at the regex's piece boundaries; a cut inside a run of
    # whitespace can shift a token across it, so each cut adds one token of margin.
    n = len(pieces) - 1
    for piece in pieces:
        n += _encode_count(encoding, piece)
    return n


def _encode_count(encoding: Tokenizer, text: str) -> int:
    try:
        return len(encoding.encode_ordinary(text))
    except BaseException as exc:
        # Defence in depth for regex overflows not foreseen above: a token is at least
        # one byte, so the UTF-8 length is a count that is never too small.
        if type(exc).__name__ != "PanicException":
            raise
        return len(text.encode("utf-8", "surrogatepass"))


@functools.lru_cache(maxsize=128)
def counter_for(model: str, encoding: str | None = None) -> TokenCounter:
    """The shared :class:`TokenCounter` for a model (and optional encoding).

    >>> counter_for("gpt-4o") is counter_for("gpt-4o")
    True
    """
    return TokenCounter(model, encoding=encoding)


def count_tokens(
    messages: Iterable[MessageLike],
    *,
    model: str,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """The prompt tokens of ``messages`` (dicts in the API's shape, or messages) for ``model``.

    >>> count_tokens([{"role": "user", "content": "Hello!"}], model="gpt-4o")
    9
    """
    return counter_for(model).prompt(to_messages(messages), tools or ())
