"""The ``convo`` command line, built on the public API only.

    convo chat                 chat with the default model; every turn is saved
    convo chat -c              continue the latest conversation
    convo ask "Why is the sky blue?"
    git diff | convo ask "Review this"
    convo ls / show ID / export ID / import FILE / templates / plugins / models

Errors are one line on stderr with a non-zero exit; Ctrl-C during a reply stops it
and saves nothing of that turn (exit status 130). See docs/cli.md.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

import convo
from convo import models, plugins

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED = "Interrupted: nothing of this turn was saved."


class _TurnInterrupted(Exception):
    """Ctrl-C arrived while a reply was streaming; the turn was dropped."""


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {_one_line(message)}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """A click group whose usage errors, like every other error, are one line on stderr."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _fail(exc.format_message() + hint, exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@contextmanager
def _errors() -> Iterator[None]:
    # Users see one line, never a traceback, and a non-zero exit.
    try:
        yield
    except _TurnInterrupted:
        click.echo(f"\n{INTERRUPTED}", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("\nInterrupted.", err=True)
        sys.exit(130)
    except convo.ConvoError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{type(exc).__name__}: {exc}")


# -- options ---------------------------------------------------------------------------


def _db_option(fn: F) -> F:
    return click.option(
        "--db",
        envvar="CONVO_DB",
        metavar="URL",
        help="SQLAlchemy URL of the store (default: $CONVO_DB, else convo.db in the data dir).",
    )(fn)


def _conversation_options(fn: F) -> F:
    options = [
        click.option("-m", "--model", help="Model name or alias (see `convo models`)."),
        click.option(
            "-c", "--continue", "continue_", is_flag=True, help="Continue the latest conversation."
        ),
        click.option("--cid", metavar="ID", help="Continue the conversation with this id."),
        click.option("-s", "--system", help="System prompt (new conversations)."),
        click.option(
            "-t",
            "--template",
            metavar="NAME|FILE",
            help="System prompt from a plugin template or a .prompty/.jinja file.",
        ),
        click.option(
            "--var", "variables", multiple=True, metavar="KEY=VALUE", help="Template variable."
        ),
        click.option(
            "-T", "--tool", "tool_names", multiple=True, help="Enable a plugin tool (repeatable)."
        ),
        click.option(
            "-o",
            "--option",
            "options",
            nargs=2,
            multiple=True,
            metavar="KEY VALUE",
            help="Request parameter, e.g. -o temperature 0.2 -o max_tokens 200 (JSON values).",
        ),
        click.option("-u", "--usage", is_flag=True, help="Show token usage after each reply."),
        _db_option,
        click.option("-n", "--no-save", is_flag=True, help="Do not save this conversation."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _variables(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise convo.InputError(f"--var expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def _params(options: Sequence[tuple[str, str]]) -> dict[str, Any]:
    # "-o max_tokens 50" must send the number 50; text that is not JSON stays text.
    out: dict[str, Any] = {}
    for key, raw in options:
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def _template(spec: str) -> convo.Template:
    if Path(spec).is_file():
        return convo.Template.from_file(spec)
    return plugins.templates().get(spec)


def _tools(names: Sequence[str]) -> list[convo.Tool[Any, Any]]:
    registry = plugins.tools()
    found = []
    for name in names:
        tool = registry.get(name)
        if tool is None:
            known = ", ".join(registry.names()) or "none"
            raise convo.ToolNotFoundError(
                f"no plugin tool named {name!r} (installed: {known})", tool=name
            )
        found.append(tool)
    return found


def _show_tool_result(call: Any, answer: convo.Message) -> None:
    click.echo(
        f"\n[tool {call.tool.name}({json.dumps(call.arguments)}) -> {answer.text}]", err=True
    )


def _open(
    stack: ExitStack,
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
    store = None if no_save else stack.enter_context(convo.SQLStore(db))
    tools = _tools(tool_names)
    if continue_ or cid:
        if store is None:
            raise convo.InputError("--no-save cannot continue a saved conversation")
        if system or template or variables:
            raise convo.InputError(
                "--system, --template and --var set up a new conversation; "
                "a continued one keeps its own"
            )
        conversation_id = cid or store.latest()
        if conversation_id is None:
            raise convo.InputError("there is no saved conversation to continue")
        conv = convo.Conversation.load(
            conversation_id, store=store, tools=tools, on_tool_result=_show_tool_result
        )
        if model:
            conv.model = models.resolve(model)
        return stack.enter_context(conv)
    if system and template:
        raise convo.InputError("give --system or --template, not both")
    if variables and not template:
        raise convo.InputError("--var fills in a --template; there is none")
    prompt: str | convo.Template | None = system
    params: dict[str, Any] = {}
    if template:
        prompt = _template(template)
        model = model or prompt.model
        params = prompt.parameters
    conv = convo.Conversation(
        prompt,
        model=models.resolve(model) if model else models.default_model(),
        store=store,
        tools=tools,
        variables=_variables(variables),
        on_tool_result=_show_tool_result,
        **params,
    )
    return stack.enter_context(conv)


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
        raise _TurnInterrupted from None
    click.echo()
    if usage:
        _show_usage(stream.reply)


# -- commands --------------------------------------------------------------------------


@click.group(cls=_Group)
@click.version_option(package_name="convo")
def cli() -> None:
    """convo: conversations with large language models."""


@cli.command()
@_conversation_options
def chat(usage: bool, options: tuple[tuple[str, str], ...], **setup: Any) -> None:
    """Chat interactively; type 'exit' or press Ctrl-D to stop.

    Ctrl-C during a reply drops that turn and returns to the prompt.
    """
    with _errors(), ExitStack() as stack:
        params = _params(options)
        conv = _open(stack, **setup)
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
            except _TurnInterrupted:
                click.echo(f"\n{INTERRUPTED}", err=True)


@cli.command()
@click.argument("prompt", required=False)
@_conversation_options
def ask(
    prompt: str | None, usage: bool, options: tuple[tuple[str, str], ...], **setup: Any
) -> None:
    """Ask once and print the reply; piped stdin is sent too (before PROMPT)."""
    with _errors(), ExitStack() as stack:
        piped = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        text = "\n\n".join(part for part in (piped.strip(), prompt or "") if part)
        if not text:
            raise convo.InputError("nothing to ask: give a PROMPT or pipe text in")
        params = _params(options)
        _reply(_open(stack, **setup), text, params, usage)


@cli.command("ls")
@click.option("--limit", default=20, show_default=True, help="How many to list.")
@click.option("-q", "--query", help="Only conversations whose messages contain this text.")
@_db_option
def ls(limit: int, query: str | None, db: str | None) -> None:
    """List saved conversations, most recently updated first."""
    with _errors(), convo.SQLStore(db) as store:
        for c in store.list(limit=limit, text=query):
            when = c.updated_at.strftime("%Y-%m-%d %H:%M")
            model = c.model or "-"
            preview = _one_line(c.preview)[:60]
            click.echo(f"{c.id}  {when}  {model:<20} {c.message_count:>4} msgs  {preview}")


@cli.command()
@click.argument("conversation_id", metavar="ID")
@_db_option
def show(conversation_id: str, db: str | None) -> None:
    """Print a saved conversation, system prompt included."""
    with _errors(), convo.SQLStore(db) as store:
        conv = convo.Conversation.load(conversation_id, store=store)
        click.echo(f"# {conv.id}  model {conv.model}  {len(conv.history)} messages")
        for m in conv.messages:
            label: str = m.role
            if m.tool_calls:
                label = "assistant (tool calls)"
            elif m.role == "tool" and m.name:
                label = f"tool ({m.name})"
            calls = ", ".join(
                f"{c.function.name}({c.function.arguments})" for c in m.tool_calls or ()
            )
            click.echo(f"\n[{label}]\n{m.text or calls}")


def _totals_line(label: str, t: Any) -> str:
    cost = "cost unknown" if t.cost is None else f"${t.cost:.6f}"
    if t.cost is not None and t.unpriced:
        cost += f" (+{t.unpriced} unpriced turns)"
    return (
        f"{label}  {t.prompt_tokens} prompt + {t.completion_tokens} completion = "
        f"{t.total_tokens} tokens  {cost}"
    )


@cli.command("usage")
@click.argument("conversation_id", metavar="[ID]", required=False)
@click.option("--limit", default=20, show_default=True, help="How many conversations to list.")
@_db_option
def usage_(conversation_id: str | None, limit: int, db: str | None) -> None:
    """Tokens and cost (USD, where the price is known): of one conversation, or of the
    most recent ones and of all."""
    with _errors(), convo.SQLStore(db) as store:
        if conversation_id is not None:
            click.echo(_totals_line(conversation_id, store.totals(conversation_id)))
            return
        for c in store.list(limit=limit):
            click.echo(_totals_line(c.id, store.totals(c.id)))
        click.echo(_totals_line("all", store.totals()))


@cli.command("export")
@click.argument("conversation_id", metavar="ID")
@_db_option
def export(conversation_id: str, db: str | None) -> None:
    """Write a conversation as JSON on stdout (`convo import` reads it back)."""
    with _errors(), convo.SQLStore(db) as store:
        click.echo(json.dumps(store.export(conversation_id), ensure_ascii=False, indent=2))


@cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--new-id", is_flag=True, help="Give the imported conversation a new id.")
@_db_option
def import_(file: Any, new_id: bool, db: str | None) -> None:
    """Import a conversation exported as JSON (FILE, or - for stdin); prints its id."""
    with _errors():
        try:
            data = json.load(file)
        except (ValueError, UnicodeDecodeError) as exc:
            raise convo.InputError(f"{file.name}: not a JSON export ({exc})") from None
        with convo.SQLStore(db) as store:
            click.echo(store.import_(data, new_id=new_id))


@cli.command()
def templates() -> None:
    """List the templates that plugins provide, with their variables."""
    with _errors():
        owner = {t: p.name for p in plugins.plugins() for t in p.templates}
        registry = plugins.templates()
        for name in registry.names():
            variables = ", ".join(sorted(registry.get(name).variables)) or "-"
            click.echo(f"{name}  (plugin {owner.get(name, '?')}; variables: {variables})")


@cli.command("plugins")
def plugins_() -> None:
    """List installed plugins, what each registered, and any that failed to load."""
    with _errors():
        for info in plugins.plugins():
            click.echo(f"{info.name} {info.version or ''}".rstrip())
            rows = [
                ("hooks", info.hooks),
                ("models", info.models),
                ("tools", info.tools),
                ("templates", info.templates),
            ]
            for label, values in rows:
                if values:
                    click.echo(f"  {label}: {', '.join(values)}")
            if info.error:
                click.echo(f"  error: {_one_line(info.error)}")


@cli.command("models")
def models_() -> None:
    """List the models that plugins serve, their aliases, and the default."""
    with _errors():
        default = models.default_model()
        aliases: dict[str, list[str]] = {}
        for alias, target in sorted(models.aliases().items()):
            aliases.setdefault(target, []).append(alias)
        names = dict.fromkeys([*models.model_names(), *aliases, default])
        for name in names:
            entry = plugins.manager().resolve(name)
            notes = [f"plugin {entry.plugin}" if entry else "no plugin serves it"]
            if name in aliases:
                notes.append(f"aliases: {', '.join(aliases[name])}")
            if name == default:
                notes.append("default")
            click.echo(f"{name}  ({'; '.join(notes)})")


def main() -> None:
    """The ``convo`` console script: the commands above plus the plugins' ones."""
    # A plugin that fails to load is reported as one line, and the command goes on.
    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.WARNING)
    plugins.register_commands(cli)
    cli(prog_name="convo")


if __name__ == "__main__":
    main()
