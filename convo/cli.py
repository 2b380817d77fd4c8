"""The ``convo`` command line, built on the public API only.

    convo chat                 chat with the default model; every turn is saved
    convo chat -c              continue the latest conversation
    convo ask "Why is the sky blue?"
    git diff | convo ask "Review this"
    convo ls / show ID / export ID / import FILE / templates / plugins / models

Errors are one line on stderr with a non-zero exit; Ctrl-C during a reply stops it
and saves nothing of that turn.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

import convo
from convo import models, plugins

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def _errors() -> Iterator[None]:
    # Users see one line, never a traceback, and a non-zero exit.
    try:
        yield
    except convo.ConvoError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("\nInterrupted: nothing of this turn was saved.", err=True)
        sys.exit(130)


def _store(db: str | None) -> convo.SQLStore:
    return convo.SQLStore(db)


def _conversation_options(fn: F) -> F:
    options = [
        click.option("-m", "--model", help="Model name or alias (see `convo models`)."),
        click.option(
            "-c", "--continue", "continue_", is_flag=True, help="Continue the latest conversation."
        ),
        click.option("--cid", help="Continue the conversation with this id."),
        click.option("-s", "--system", help="System prompt."),
        click.option(
            "-t", "--template", help="Template name or .prompty/.jinja file for the system prompt."
        ),
        click.option(
            "-v",
            "--var",
            "variables",
            multiple=True,
            metavar="KEY=VALUE",
            help="Template variable.",
        ),
        click.option(
            "-T", "--tool", "tool_names", multiple=True, help="Enable a plugin tool (repeatable)."
        ),
        click.option("-u", "--usage", is_flag=True, help="Show token usage after each reply."),
        click.option("--db", envvar="CONVO_DB", help="SQLAlchemy URL of the store."),
        click.option("-n", "--no-save", is_flag=True, help="Do not save this conversation."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _variables(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--var")
        out[key] = value
    return out


def _template(spec: str) -> convo.Template:
    path = Path(spec)
    if path.is_file():
        return convo.Template.from_file(path)
    return plugins.templates().get(spec)


def _open(
    *,
    model: str | None,
    continue_: bool,
    cid: str | None,
    system: str | None,
    template: str | None,
    variables: tuple[str, ...],
    tool_names: tuple[str, ...],
    db: str | None,
    no_save: bool,
) -> convo.Conversation:
    store = None if no_save else _store(db)
    registry = plugins.tools()
    tools = []
    for name in tool_names:
        found = registry.get(name)
        if found is None:
            known = ", ".join(registry.names()) or "none"
            raise convo.ToolNotFoundError(f"no plugin tool named {name!r} (installed: {known})")
        tools.append(found)
    if continue_ or cid:
        if store is None:
            raise convo.InputError("--no-save cannot continue a saved conversation")
        conversation_id = cid or store.latest()
        if conversation_id is None:
            raise convo.InputError("there is no saved conversation to continue")
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        conv = convo.Conversation.load(conversation_id, store=store, **extra)
        if model:
            conv.model = models.resolve(model)
        return conv
    prompt: str | convo.Template | None = system
    if template:
        prompt = _template(template)
    name = models.resolve(model or models.default_model())
    return convo.Conversation(
        prompt, model=name, store=store, tools=tools, variables=_variables(variables)
    )


def _show_usage(reply: convo.Reply | None) -> None:
    if reply is not None and reply.usage is not None:
        u = reply.usage
        click.echo(
            f"[tokens: prompt {u.prompt_tokens}, completion {u.completion_tokens}, "
            f"total {u.total_tokens}; local count {reply.prompt_tokens_local}]",
            err=True,
        )


def _reply(conv: convo.Conversation, text: str, usage: bool) -> None:
    with conv.stream(text) as stream:
        for delta in stream:
            click.echo(delta, nl=False)
        click.echo()
    if usage:
        _show_usage(stream.reply)


@click.group()
@click.version_option(package_name="convo")
def cli() -> None:
    """convo: conversations with large language models."""


@cli.command()
@_conversation_options
def chat(usage: bool, **options: Any) -> None:
    """Chat interactively; type 'exit' or Ctrl-D to stop."""
    with _errors():
        conv = _open(**options)
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
            if text.strip():
                _reply(conv, text, usage)


@cli.command()
@click.argument("prompt", required=False)
@_conversation_options
def ask(prompt: str | None, usage: bool, **options: Any) -> None:
    """Ask once; piped stdin is sent too (before PROMPT)."""
    with _errors():
        piped = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        text = "\n\n".join(part for part in (piped.strip(), prompt or "") if part)
        if not text:
            raise convo.InputError("nothing to ask: give a PROMPT or pipe text in")
        _reply(_open(**options), text, usage)


@cli.command("ls")
@click.option("--limit", default=20, show_default=True)
@click.option("-q", "--query", help="Only conversations whose text contains this.")
@click.option("--db", envvar="CONVO_DB")
def ls(limit: int, query: str | None, db: str | None) -> None:
    """List saved conversations, newest first."""
    with _errors():
        for c in _store(db).list(limit=limit, text=query):
            when = c.updated_at.strftime("%Y-%m-%d %H:%M") if c.updated_at else ""
            model = c.model or "-"
            click.echo(f"{c.id}  {when}  {model:<24} {c.message_count:>4} msgs  {c.preview[:60]!r}")


@cli.command()
@click.argument("conversation_id")
@click.option("--db", envvar="CONVO_DB")
def show(conversation_id: str, db: str | None) -> None:
    """Print a saved conversation."""
    with _errors():
        conv = convo.Conversation.load(conversation_id, store=_store(db))
        click.echo(f"# {conv.id}  model {conv.model}")
        for m in conv.messages:
            label = m.role if not m.tool_calls else "assistant (tool calls)"
            body = m.text or ", ".join(f"{c.name}({c.arguments})" for c in m.tool_calls or ())
            click.echo(f"\n[{label}]\n{body}")


@cli.command("export")
@click.argument("conversation_id")
@click.option("--db", envvar="CONVO_DB")
def export(conversation_id: str, db: str | None) -> None:
    """Write a conversation as JSON on stdout."""
    with _errors():
        click.echo(json.dumps(_store(db).export(conversation_id), ensure_ascii=False, indent=2))


@cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--new-id", is_flag=True, help="Give the imported conversation a new id.")
@click.option("--db", envvar="CONVO_DB")
def import_(file: Any, new_id: bool, db: str | None) -> None:
    """Import a conversation exported as JSON (FILE or - for stdin)."""
    with _errors():
        try:
            data = json.load(file)
        except json.JSONDecodeError as exc:
            raise convo.InputError(f"{file.name}: not JSON ({exc})") from None
        click.echo(_store(db).import_(data, new_id=new_id))


@cli.command()
def templates() -> None:
    """List the templates that plugins provide."""
    with _errors():
        for name in plugins.templates().names():
            click.echo(name)


@cli.command("plugins")
def plugins_() -> None:
    """List installed plugins, and any that failed to load."""
    with _errors():
        for info in plugins.plugins():
            status = f"  ERROR: {info.error}" if info.error else ""
            click.echo(f"{info.name} {info.version or ''}  hooks: {', '.join(info.hooks)}{status}")


@cli.command("models")
def models_() -> None:
    """List known model names and aliases."""
    with _errors():
        default = models.default_model()
        for name in models.model_names():
            click.echo(f"{name}{'  (default)' if name == default else ''}")


def main() -> None:
    plugins.register_commands(cli)
    cli(prog_name="convo")
