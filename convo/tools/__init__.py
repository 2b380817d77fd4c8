"""Tools: typed functions the model may call, their registry, and running the calls.

>>> from convo.tools import tool, ToolRegistry
>>> @tool
... def greet(name: str) -> str:
...     '''Greet someone by name.'''
...     return f"Hello, {name}!"
>>> ToolRegistry([greet]).schemas()[0]["function"]["description"]
'Greet someone by name.'

See ``docs/tools.md``.
"""

from convo.tools.execute import PreparedCall, arun_all, prepare, run, run_all, to_text
from convo.tools.registry import (
    MAX_ARGUMENTS_SIZE,
    MAX_RESULT_TOKENS,
    Tool,
    ToolRegistry,
    as_registry,
    tool,
)
from convo.tools.schema import closed, function_model, json_schema, strict_schema, tidy

__all__ = [
    "MAX_ARGUMENTS_SIZE",
    "MAX_RESULT_TOKENS",
    "PreparedCall",
    "Tool",
    "ToolRegistry",
    "arun_all",
    "as_registry",
    "closed",
    "function_model",
    "json_schema",
    "prepare",
    "run",
    "run_all",
    "strict_schema",
    "tidy",
    "to_text",
    "tool",
]
