"""convo: conversations with large language models.

>>> from convo import Conversation, ScriptedTransport
>>> conv = Conversation("You are terse.", model="gpt-4o-mini", transport=ScriptedTransport("Hi."))
>>> conv.send("Hello").text
'Hi.'

Everything public is importable from here, and imported on first use (the errors
excepted), so that ``import convo`` stays cheap for command-line tools.
"""

from __future__ import annotations

__version__ = "0.1.0"  # the one place the version is written (pyproject reads it)

import importlib
from typing import TYPE_CHECKING, Any

from convo.errors import *  # noqa: F403 - the error tree is part of the public face
from convo.errors import __all__ as _errors

if TYPE_CHECKING:
    from convo.budget import context_window as context_window
    from convo.conversation import (
        AsyncConversation as AsyncConversation,
        Conversation as Conversation,
    )
    from convo.events import (
        Finished as Finished,
        ModelCall as ModelCall,
        PartialOutput as PartialOutput,
        TextDelta as TextDelta,
        ToolCallEvent as ToolCallEvent,
        ToolResultEvent as ToolResultEvent,
    )
    from convo.limits import UsageLimits as UsageLimits
    from convo.messages import (
        AudioPart as AudioPart,
        FilePart as FilePart,
        FunctionCall as FunctionCall,
        ImagePart as ImagePart,
        Message as Message,
        Reasoning as Reasoning,
        TextPart as TextPart,
        ToolCall as ToolCall,
    )
    from convo.pending import DEFER as DEFER, ToolResult as ToolResult
    from convo.reply import Choice as Choice, Reply as Reply, Usage as Usage
    from convo.request import Request as Request, RequestOptions as RequestOptions
    from convo.store import AsyncSQLStore as AsyncSQLStore, SQLStore as SQLStore
    from convo.stream import AsyncStream as AsyncStream, Stream as Stream
    from convo.summary import (
        KeepNewest as KeepNewest,
        Strategy as Strategy,
        Summarize as Summarize,
    )
    from convo.templates import (
        Template as Template,
        TemplateLibrary as TemplateLibrary,
        TemplateRegistry as TemplateRegistry,
    )
    from convo.tokens import TokenCounter as TokenCounter, count_tokens as count_tokens
    from convo.tools import Tool as Tool, ToolRegistry as ToolRegistry, tool as tool
    from convo.transports.base import Transport as Transport
    from convo.transports.openai import OpenAITransport as OpenAITransport
    from convo.transports.testing import (
        FunctionTransport as FunctionTransport,
        ScriptedTransport as ScriptedTransport,
    )

# Every name but the errors is imported on first use: `convo --help` and other commands
# that never build a message do not pay for pydantic (measured: most of the import time).
_LAZY = {
    "AudioPart": "convo.messages",
    "Choice": "convo.reply",
    "DEFER": "convo.pending",
    "FilePart": "convo.messages",
    "Finished": "convo.events",
    "FunctionCall": "convo.messages",
    "FunctionTransport": "convo.transports.testing",
    "ImagePart": "convo.messages",
    "Message": "convo.messages",
    "ModelCall": "convo.events",
    "PartialOutput": "convo.events",
    "Reasoning": "convo.messages",
    "Reply": "convo.reply",
    "Request": "convo.request",
    "RequestOptions": "convo.request",
    "ScriptedTransport": "convo.transports.testing",
    "TextDelta": "convo.events",
    "TextPart": "convo.messages",
    "ToolCall": "convo.messages",
    "ToolCallEvent": "convo.events",
    "ToolResult": "convo.pending",
    "ToolResultEvent": "convo.events",
    "Transport": "convo.transports.base",
    "Usage": "convo.reply",
    "AsyncConversation": "convo.conversation",
    "AsyncSQLStore": "convo.store",
    "AsyncStream": "convo.stream",
    "Conversation": "convo.conversation",
    "KeepNewest": "convo.summary",
    "OpenAITransport": "convo.transports.openai",
    "SQLStore": "convo.store",
    "Strategy": "convo.summary",
    "Stream": "convo.stream",
    "Summarize": "convo.summary",
    "Template": "convo.templates",
    "TemplateLibrary": "convo.templates",
    "TemplateRegistry": "convo.templates",
    "TokenCounter": "convo.tokens",
    "UsageLimits": "convo.limits",
    "Tool": "convo.tools",
    "ToolRegistry": "convo.tools",
    "context_window": "convo.budget",
    "count_tokens": "convo.tokens",
    "tool": "convo.tools",
}

__all__ = sorted([*_errors, *_LAZY])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'convo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
