"""The ``convo`` command line, built on the public API only.

    convo chat                 chat with the default model; every turn is saved
    convo chat -c              continue the latest conversation
    convo ask "Why is the sky blue?"
    git diff | convo ask "Review this"
    convo ls / logs / show ID / rm ID / export ID / import FILE / usage
    convo models [default NAME | alias NAME MODEL] / templates / plugins / path

Errors are one line on stderr with a non-zero exit; Ctrl-C during a reply stops it
and saves nothing of that turn (exit status 130). See docs/cli.md.
"""

from __future__ import annotations

import gc
import logging

from convo.cli import chat, installed, logs, models, paths, saved  # noqa: F401  (register commands)
from convo.cli.base import INTERRUPTED, cli

__all__ = ["INTERRUPTED", "cli", "main"]


def main() -> None:
    """The ``convo`` console script: the commands above plus the plugins' ones."""
    # A plugin that fails to load is reported as one line, and the command goes on.
    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.WARNING)
    try:
        cli(prog_name="convo")
    finally:
        # The command is done: without this, the interpreter's last garbage collection
        # walks every object the imports made (SQLAlchemy, pydantic), ~15% of the
        # CPU of `convo ls`. Exit handlers and finalizers run as before.
        gc.freeze()
