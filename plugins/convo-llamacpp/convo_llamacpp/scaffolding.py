"""Keeping the function-calling format's markers out of a free-text answer.

In the format of :mod:`convo_llamacpp.functions` an answer begins with ``message:``
or ``functions.<name>:``. The first marker is chosen under a grammar, but the text
after ``message:`` is free, and a small model goes on to write the format itself:
a second ``message:``, or ``functions.get_weather:`` followed by arguments, which
would be saved as the reply's text while the tool is never called.

:class:`Scaffolding` reads the answer as it streams and decides, at the start of
each line, whether the line is a marker. ``message:`` is dropped (what follows is
the answer); a line that begins ``functions.<name>`` ends the text there, and
:attr:`Scaffolding.call` names the tool when it is ``functions.<name>:`` for one
of the offered ones (the caller then has the
arguments generated under the tool's schema). A line that could still become a
marker is held back until it is decided, so nothing of a marker is ever shown.

>>> s = Scaffolding(["get_weather"])
>>> s.feed("message:\\nLet me check.\\nfunc") + s.feed('tions.get_weather:\\n{"city": "Oslo"}')
'Let me check.'
>>> s.call, s.done
('get_weather', True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Scaffolding", "clean"]

MESSAGE = "message:"
FUNCTIONS = "functions."
_NAME = re.compile(r"[A-Za-z0-9_.-]*")
_QUOTES = "\"'`"
_LONGEST_NAME = 128  # a tool name is at most 64 characters at OpenAI; twice that is no name


class Scaffolding:
    """Feed the answer's text in pieces; each call returns what may be shown of it."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        self.call: str | None = None
        """The offered tool whose marker ended the text, if any."""
        self.done = False
        """True once a ``functions.`` marker ended the text: generating more is waste."""
        self._held = ""  # the start of a line that may yet turn out to be a marker
        self._newlines = ""  # shown only once the next line is known not to be a marker
        self._line_start = True
        self._after_message = False  # whitespace right after "message:" is the marker's

    def feed(self, text: str) -> str:
        """The part of ``text`` (after what was held back) that is answer, not format."""
        if self.done:
            return ""
        buf, self._held = self._held + text, ""
        out: list[str] = []
        while buf and not self.done:
            if self._after_message:
                buf = buf.lstrip()
                if not buf:
                    break
                self._after_message = False
            if self._line_start:
                buf = self._decide(buf, out)
                continue
            end = buf.find("\n")
            if end < 0:
                out.append(buf)
                break
            out.append(buf[:end])
            self._newlines += "\n"
            self._line_start = True
            buf = buf[end + 1 :]
        return "".join(out)

    def finish(self) -> str:
        """What was held back when the answer ended: a line that never became a marker."""
        if self.done or not self._held.strip():
            return ""
        held, self._held = self._held, ""
        return self._newlines + held

    def _decide(self, buf: str, out: list[str]) -> str:
        head = buf.lstrip(" \t")
        if head.startswith("\n"):  # an empty line: kept like any newline
            self._newlines += "\n"
            return head[1:]
        kind, size = _marker(head)
        if kind == "partial":
            self._held = buf
            return ""
        if kind == "message":
            self._after_message = True
            return head[size:]
        if kind == "call":
            name, then = head[len(FUNCTIONS) : size], head[size : size + 1]
            # "functions.<offered name>:" (or "(", as in "functions.add({...})") is a
            # call; anything else is the format gone wrong, and the text ends there too.
            self.call = name if name in self.names and then in (":", "(") else None
            self.done = True
            return ""
        out.append(self._newlines)
        self._newlines = ""
        self._line_start = False
        return buf


def _marker(head: str) -> tuple[str, int]:
    """``("message" | "call", length)``, ``("partial", 0)`` if undecided, else ``("", 0)``.

    Any line that begins ``functions.<letter>`` is the format, whatever follows the
    name (seen: ``functions.add({...})``, ``functions.weatherIn Tokyo``): a ``call``
    whose length ends with the name.
    """
    quote = len(head) - len(head.lstrip(_QUOTES))
    if not head[quote:] or MESSAGE.startswith(head[quote:]) or FUNCTIONS.startswith(head):
        return "partial", 0
    if head.startswith(MESSAGE, quote):  # seen quoted: '"message: Are you in Paris?"'
        return "message", quote + len(MESSAGE)
    if not head.startswith(FUNCTIONS):
        return "", 0
    start = len(FUNCTIONS)
    if len(head) > start and not (head[start].isalpha() or head[start] == "_"):
        return "", 0  # "functions.)" and the like: not a name, so not the format
    name = _NAME.match(head, start)
    end = name.end() if name else start
    if end == len(head) and end - start <= _LONGEST_NAME:
        return "partial", 0
    return "call", end


def clean(raw: str, names: Iterable[str]) -> tuple[str, str | None]:
    """A whole answer's text without the format, and the tool it went on to call.

    >>> clean("message:\\nHello!\\nmessage:\\nAnything else?", ["get_weather"])
    ('Hello!\\nAnything else?', None)
    """
    s = Scaffolding(names)
    text = s.feed(raw) + s.finish()
    return text, s.call
