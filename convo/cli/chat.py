"""``convo chat`` and ``convo ask``: a streamed reply per turn."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from convo.cli.base import (
    INTERRUPTED,
    TurnInterrupted,
    cli,
    conversation_options,
    errors,
)
from convo.cli.render import reply_output

if TYPE_CHECKING:
    import convo


def _show_usage(reply: convo.Reply | None, request: convo.Request | None) -> None:
    if reply is None:
        return
    if request is not None and request.dropped:
        click.echo(
            f"[trimmed: {len(request.dropped)} older messages left out to fit the "
            f"{request.budget}-token prompt budget]",
            err=True,
        )
    local = reply.prompt_tokens_local
    if reply.usage is None:
        click.echo(f"[usage: not reported; prompt about {local} tokens by convo's count]", err=True)
        return
    u = reply.usage
    click.echo(
        f"[usage: prompt {u.prompt_tokens}, completion {u.completion_tokens}, "
        f"total {u.total_tokens} tokens; convo counted {local} prompt tokens]",
        err=True,
    )


def _reply(conv: convo.Conversation, text: str, params: dict[str, Any], usage: bool) -> None:
    # Imported here, not above: `convo --help` then never loads pydantic.
    from convo.events import ModelCall, TextDelta

    try:
        request = None
        with reply_output() as write, conv.stream(text, **params) as stream:
            for event in stream.events():
                if isinstance(event, TextDelta):
                    write(event.text)
                elif isinstance(event, ModelCall) and request is None:
                    request = event.request
    except KeyboardInterrupt:
        # Leaving the stream closed the response; the turn never reached the history.
        raise TurnInterrupted from None
    if usage:
        _show_usage(stream.reply, request)


@cli.command()
@conversation_options
def chat(usage: bool, options: tuple[tuple[str, str], ...], **setup: Any) -> None:
    """Chat interactively; type 'exit' or press Ctrl-D to stop.

    Arrow keys edit and recall lines; a paste is one message; '!multi' starts a
    message of several lines, ended by '!end'; '!edit' writes one in $EDITOR.
    Ctrl-C during a reply drops that turn and returns to the prompt.
    """
    # Imported here: `convo ls` and `convo --help` need neither plugins nor readline.
    import platformdirs

    from convo.cli.prompt import EDIT, MULTI, enable_line_editing, read_message
    from convo.cli.session import open_conversation, parse_params

    with errors(), ExitStack() as stack:
        params = parse_params(options)
        conv = open_conversation(stack, **setup)
        click.echo(
            f"Chatting with {conv.model} (conversation {conv.id}). Ctrl-D or 'exit' quits; "
            f"'{MULTI}' for several lines, '{EDIT}' for $EDITOR.",
            err=True,
        )
        enable_line_editing(Path(platformdirs.user_data_dir("convo")) / "history")
        while True:
            text = read_message()
            if text is None:
                click.echo(err=True)
                return
            if text.strip() in ("exit", "quit"):
                return
            if not text.strip():
                continue
            try:
                _reply(conv, text, params, usage)
            except TurnInterrupted:
                click.echo(f"\n{INTERRUPTED}", err=True)


@cli.command()
@click.argument("prompt", required=False)
@conversation_options
def ask(
    prompt: str | None, usage: bool, options: tuple[tuple[str, str], ...], **setup: Any
) -> None:
    """Ask once and print the reply; piped stdin is sent too (before PROMPT)."""
    from convo.cli.session import open_conversation, parse_params

    with errors(), ExitStack() as stack:
        piped = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        text = "\n\n".join(part for part in (piped.strip(), prompt or "") if part)
        if not text:
            from convo.errors import InputError

            raise InputError("nothing to ask: give a PROMPT or pipe text in")
        params = parse_params(options)
        _reply(open_conversation(stack, **setup), text, params, usage)
