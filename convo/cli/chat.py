"""``convo chat`` and ``convo ask``: a streamed reply per turn."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Any

import click

import convo
from convo.cli.base import (
    INTERRUPTED,
    TurnInterrupted,
    cli,
    conversation_options,
    errors,
)
from convo.cli.session import open_conversation, parse_params


def _show_usage(reply: convo.Reply | None) -> None:
    if reply is None:
        return
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
    try:
        with conv.stream(text, **params) as stream:
            for delta in stream:
                click.echo(delta, nl=False)
    except KeyboardInterrupt:
        # Leaving the stream closed the response; the turn never reached the history.
        raise TurnInterrupted from None
    click.echo()
    if usage:
        _show_usage(stream.reply)


@cli.command()
@conversation_options
def chat(usage: bool, options: tuple[tuple[str, str], ...], **setup: Any) -> None:
    """Chat interactively; type 'exit' or press Ctrl-D to stop.

    Ctrl-C during a reply drops that turn and returns to the prompt.
    """
    with errors(), ExitStack() as stack:
        params = parse_params(options)
        conv = open_conversation(stack, **setup)
        click.echo(
            f"Chatting with {conv.model} (conversation {conv.id}). Ctrl-D or 'exit' quits.",
            err=True,
        )
        while True:
            try:
                text = click.prompt("", prompt_suffix="> ", default="", show_default=False)
            except (EOFError, click.Abort):
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
    with errors(), ExitStack() as stack:
        piped = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        text = "\n\n".join(part for part in (piped.strip(), prompt or "") if part)
        if not text:
            raise convo.InputError("nothing to ask: give a PROMPT or pipe text in")
        params = parse_params(options)
        _reply(open_conversation(stack, **setup), text, params, usage)
