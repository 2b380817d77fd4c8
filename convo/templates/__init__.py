"""Prompt templates: Jinja in a bounded sandbox, as one text or a list of messages.

- :class:`Template` — one template, from a string or a file (``Template.from_file``);
- :class:`TemplateRegistry` — templates by name (plugins register into one);
- :class:`TemplateLibrary` — the templates in a directory;
- :class:`Limits` — the bounds on a render (output size, loop steps, time).

The format (Prompty front matter, role lines) is in :mod:`convo.templates.prompty`
and ``docs/templates.md``; the sandbox in :mod:`convo.templates.sandbox`.

>>> Template("Hi {{ who }}").render(who="👋 世界")
'Hi 👋 世界'
"""

from convo.templates.library import TemplateLibrary, TemplateRegistry
from convo.templates.sandbox import Limits
from convo.templates.template import Template

__all__ = ["Limits", "Template", "TemplateLibrary", "TemplateRegistry"]
