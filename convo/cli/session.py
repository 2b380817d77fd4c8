"""Opening the conversation a ``chat`` or ``ask`` command talks in (new, continued, templated)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

import convo
from convo import models, plugins
from convo.cli.ids import full_id


def _variables(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise convo.InputError(f"--var expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def parse_params(options: Sequence[tuple[str, str]]) -> dict[str, Any]:
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


def open_conversation(
    stack: ExitStack,
    *,
    model: str | None,
    continue_: bool,
    cid: str | None,
    system: str | None,
    template: str | None,
    variables: tuple[str, ...],
    tool_names: tuple[str, ...],
    mcp_servers: tuple[str, ...],
    db: str | None,
    no_save: bool,
    window: int | None,
) -> convo.Conversation:
    from convo.mcp.cli import enter as enter_mcp

    store = None if no_save else stack.enter_context(convo.SQLStore(db))
    tools = [*_tools(tool_names), *enter_mcp(stack, mcp_servers)]
    if continue_ or cid:
        if store is None:
            raise convo.InputError("--no-save cannot continue a saved conversation")
        if system or template or variables:
            raise convo.InputError(
                "--system, --template and --var set up a new conversation; "
                "a continued one keeps its own"
            )
        conversation_id = full_id(store, cid) if cid else store.latest()
        if conversation_id is None:
            raise convo.InputError("there is no saved conversation to continue")
        conv = convo.Conversation.load(
            conversation_id,
            store=store,
            tools=tools,
            on_tool_result=_show_tool_result,
            context_window=window,
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
        context_window=window,
        **params,
    )
    return stack.enter_context(conv)
