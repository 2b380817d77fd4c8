"""MCP prompts as convo templates.

A prompt is fetched once with each argument standing for itself (``{{ name }}``); the
messages it gives become the source of a :class:`~convo.templates.Template`, the
server's text kept literal (inside ``{% raw %}``), so rendering fills the arguments in
locally, in the sandbox, like any template.

>>> from types import SimpleNamespace as NS
>>> prompt = NS(name="review", arguments=[NS(name="code")])
>>> text = NS(type="text", text="Review {{ code }} {% now %}")
>>> print(template_source(prompt, [NS(role="user", content=text)]))
user:
{% raw %}Review {% endraw %}{{ code }}{% raw %} {% now %}{% endraw %}
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["template_source"]

_ROLE_LINE = re.compile(
    r"^[ \t]*#?[ \t]*(system|developer|user|assistant)[ \t]*:[ \t]*$", re.IGNORECASE | re.M
)


def template_source(prompt: Any, messages: list[Any] | None) -> str | None:
    """The template source for ``prompt``'s messages, or ``None`` if they have no
    faithful template form (no messages, content that is not text, a line that would
    read as a role line)."""
    if not messages:
        return None
    names = [a.name for a in prompt.arguments or ()]
    if any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names):
        return None
    holes = re.compile("|".join(re.escape("{{ " + n + " }}") for n in names) or r"(?!x)x")
    parts: list[str] = []
    for message in messages:
        content = message.content
        if getattr(content, "type", None) != "text" or message.role not in ("user", "assistant"):
            return None
        text: str = content.text
        if "{% endraw %}" in text or _ROLE_LINE.search(text):
            return None
        parts.append(f"{message.role}:\n{_literal(text, holes)}")
    return "\n".join(parts)


def _literal(text: str, holes: re.Pattern[str]) -> str:
    out: list[str] = []
    at = 0
    for match in holes.finditer(text):
        if match.start() > at:
            out.append("{% raw %}" + text[at : match.start()] + "{% endraw %}")
        out.append(match.group())
        at = match.end()
    if at < len(text):
        out.append("{% raw %}" + text[at:] + "{% endraw %}")
    return "".join(out)
