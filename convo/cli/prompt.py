"""Reading what the user types at ``convo chat``'s prompt.

On a terminal the prompt has GNU readline's line editing and history (arrow keys,
Ctrl-R; kept in ``history`` in the data directory), and a paste arrives as one
message however many lines it has (readline's bracketed paste). Two commands::

    > !multi          every line up to "!end" is one message
    > !edit           write the message in $EDITOR
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

__all__ = ["EDIT", "MULTI", "MULTI_END", "enable_line_editing", "read_message"]

MULTI = "!multi"
MULTI_END = "!end"
EDIT = "!edit"


def enable_line_editing(history: Path | None) -> None:
    """Line editing and history for ``input()`` when stdin is a terminal."""
    if not sys.stdin.isatty():
        return
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input still works
        return
    # Pasted text is inserted as it is, newlines included, and sent as one message.
    readline.parse_and_bind("set enable-bracketed-paste on")
    if history is not None:
        with contextlib.suppress(OSError):
            history.parent.mkdir(parents=True, exist_ok=True)
            history.touch(mode=0o600, exist_ok=True)
            readline.read_history_file(history)
        import atexit

        atexit.register(_save, readline, history)


def _save(readline: object, history: Path) -> None:
    with contextlib.suppress(OSError):
        readline.set_history_length(1000)  # type: ignore[attr-defined]
        readline.write_history_file(history)  # type: ignore[attr-defined]


def _line(prompt: str) -> str:
    return str(click.prompt("", prompt_suffix=prompt, default="", show_default=False))


def read_message() -> str | None:
    """The next message typed, or None at end of input (Ctrl-D)."""
    try:
        text = _line("> ")
    except (EOFError, click.Abort):
        return None
    command = text.strip()
    if command == MULTI:
        lines: list[str] = []
        while True:
            try:
                line = _line(". ")
            except (EOFError, click.Abort):
                break
            if line.strip() == MULTI_END:
                break
            lines.append(line)
        return "\n".join(lines)
    if command == EDIT:
        edited = click.edit("")
        return edited.strip() if edited else ""
    return text
