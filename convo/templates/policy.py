"""What template text may touch: the ``str`` methods a prompt needs, and nothing of a
module or an os-level callable that reaches a template as a variable.

Jinja's sandbox already refuses private and internal attributes. These rules are
defence in depth on top (as Haystack's sandbox added after an RCE report): an
allow-list, so that a method Python adds later is refused until it is looked at, and
a deny rule for values whose only use in a prompt would be an attack.

>>> import os
>>> safe_attribute("a", "upper"), safe_attribute("a", "encode"), safe_attribute(os, "sep")
(True, False, False)
>>> safe_callable(os.system), safe_callable(len)
(False, True)
"""

from __future__ import annotations

import builtins
import types
from typing import Any

__all__ = ["STR_METHODS", "dangerous", "safe_attribute", "safe_callable"]

STR_METHODS = frozenset(
    {
        "capitalize", "casefold", "center", "count", "endswith", "expandtabs", "find",
        "format", "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal",
        "isdigit", "isidentifier", "islower", "isnumeric", "isprintable", "isspace",
        "istitle", "isupper", "join", "ljust", "lower", "lstrip", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
        "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip",
        "swapcase", "title", "translate", "upper", "zfill",
    }
)  # fmt: skip
"""The ``str`` methods a template may use; ``encode`` and ``maketrans`` are not among them."""

# Modules whose functions act on the machine: files, processes, the interpreter.
_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "shutil", "sys", "socket", "ctypes", "importlib",
        "pty", "signal", "multiprocessing", "pathlib", "io", "_io", "tempfile", "code",
        "pickle", "marshal", "runpy", "webbrowser", "posixpath", "ntpath", "genericpath",
    }
)  # fmt: skip
_BUILTINS = frozenset(
    id(getattr(builtins, name))
    for name in (
        "open", "eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr",
        "globals", "locals", "vars", "input", "breakpoint", "exit", "quit", "help",
    )
    if hasattr(builtins, name)
)  # fmt: skip


def dangerous(value: Any) -> bool:
    """A module, a function of one of the modules above, or an unsafe builtin."""
    if isinstance(value, types.ModuleType):
        return True
    if not callable(value):
        return False
    if id(value) in _BUILTINS:
        return True
    owner = getattr(value, "__self__", None)
    if isinstance(owner, types.ModuleType):  # a builtin function: os.system's is posix
        return owner.__name__.partition(".")[0] in _MODULES
    module = getattr(value, "__module__", None)
    return isinstance(module, str) and module.partition(".")[0] in _MODULES


def safe_attribute(obj: Any, attr: str, value: Any = None) -> bool:
    """Whether template text may read ``obj.attr`` (on top of Jinja's own rules)."""
    if isinstance(obj, types.ModuleType) or dangerous(value):
        return False
    if isinstance(obj, str):
        return attr in STR_METHODS
    # bytes have no use in a prompt, and their methods escape the str bounds
    return not isinstance(obj, bytes | bytearray | memoryview)


def safe_callable(obj: Any) -> bool:
    """Whether template text may call ``obj`` (on top of Jinja's own rules)."""
    return not dangerous(obj)
