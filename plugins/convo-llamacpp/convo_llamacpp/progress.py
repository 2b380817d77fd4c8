"""A one-line progress display on stderr, for the waits a person sees on first use.

Assembling the default model from its parts, checking its SHA-256 and loading it
take seconds with nothing else on screen. Each shows a line redrawn in place, and
only when stderr is a terminal: piped or redirected output gets nothing, so logs
and scripts see exactly what they did before.

>>> import io
>>> with Progress("Loading the model", stream=io.StringIO()) as p:
...     p.update(0.5)   # not a terminal: nothing is written
>>> p.shown
False
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

_CLEAR = "\r\x1b[K"


class Progress:
    """``label: 42%`` on one terminal line; ``keep`` leaves a final line with ``done``."""

    def __init__(self, label: str, *, keep: bool = False, stream: TextIO | None = None) -> None:
        self.label = label
        self.keep = keep
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream)
        self.shown = False
        self._percent = -1

    def update(self, fraction: float) -> None:
        """Redraw the line when the whole percentage changed (at most 101 writes)."""
        if not self.enabled:
            return
        percent = max(0, min(100, int(fraction * 100)))
        if percent == self._percent:
            return
        self._percent = percent
        self._write(f"{_CLEAR}{self.label}: {percent:3d}%")

    def __enter__(self) -> Progress:
        self.update(0)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.shown:
            return
        # On success a kept line says so; otherwise the line is wiped, so that an error
        # or "Interrupted." starts at the left margin instead of after a percentage.
        self._write(f"{_CLEAR}{self.label}: done\n" if self.keep and kind is None else _CLEAR)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
            self.shown = True
        except (OSError, ValueError):  # a closed terminal must not break the model load
            self.enabled = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
