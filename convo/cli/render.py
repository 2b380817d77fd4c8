"""How a reply reaches the screen: Markdown on a terminal, the text as it is when piped.

On a terminal the reply is rendered with ``rich`` while it streams, from its first
piece on: the live view shows the last screenful of the rendered Markdown, and when
the reply ends it is printed whole, rendered. Piped or redirected, the text is
written as it arrives, byte for byte what the model sent. ``rich`` is imported only
in the first case, so commands whose output is piped (and ``convo --help``) never
pay for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

__all__ = ["reply_output"]

_REFRESHES_PER_SECOND = 8


def _on_terminal() -> bool:
    return sys.stdout.isatty()


@contextmanager
def reply_output() -> Iterator[Callable[[str], None]]:
    """A ``write(text)`` for one reply's pieces; the reply ends when the block does.

    Example::

        with reply_output() as write:
            for piece in ("**Hello**", ", world"):
                write(piece)
    """
    if not _on_terminal():
        yield lambda text: click.echo(text, nl=False)
        click.echo()
        return
    with _markdown() as write:
        yield write


@contextmanager
def _markdown() -> Iterator[Callable[[str], None]]:
    pieces: list[str] = []
    live: Any = None

    def write(text: str) -> None:
        nonlocal live
        from rich.markdown import Markdown

        pieces.append(text)
        if live is None:
            # Started on the first piece, not before: a live display holds back what is
            # written to stderr without a newline, such as the local model's progress
            # line while it loads.
            from rich.live import Live

            live = Live(refresh_per_second=_REFRESHES_PER_SECOND, vertical_overflow="visible")
            live.start()
        live.update(_Tail(Markdown("".join(pieces))))

    try:
        yield write
    finally:
        if live is None:
            click.echo()
        else:
            from rich.markdown import Markdown

            # The last frame is the whole reply: Live prints it in full as it stops.
            live.update(Markdown("".join(pieces)), refresh=False)
            live.stop()


class _Tail:
    """The last screenful of a renderable: a live view taller than the terminal could
    not be redrawn in place (each refresh would repeat it in the scrollback)."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.segment import Segment

        lines = console.render_lines(self.renderable, options, pad=False)
        keep = max(1, console.height - 1)
        for line in lines[-keep:]:
            yield from line
            yield Segment.line()
