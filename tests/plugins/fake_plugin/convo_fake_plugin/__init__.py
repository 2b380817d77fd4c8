"""A third-party convo plugin, installed by the test run to exercise real discovery.

Model ``fake-echo`` (alias ``echo``, prefix ``fake:``) answers with the last user
message reversed, and shows what it was given, so tests can see it was used: the
system prompt in brackets; when ``shout`` is offered, a call to it, then what it said.
Tool ``shout``; template ``fake-pirate``; command ``convo fake-hello``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from convo import FunctionCall, FunctionTransport, Message, Request, ToolCall
from convo.plugins import hookimpl


def _reverse(request: Request) -> str | Message:
    last = request.messages[-1]
    if last.role == "tool":
        return f"{request.model}: the tool said {last.text}"
    if any(t["function"]["name"] == "shout" for t in request.tools):
        call = FunctionCall(name="shout", arguments=json.dumps({"text": last.text}))
        return Message.assistant(tool_calls=[ToolCall(id="call_shout", function=call)])
    system = [m.text for m in request.messages if m.role == "system"]
    said = f"[{system[0]}] " if system else ""
    return f"{request.model}: {said}{last.text[::-1]}"


def shout(text: str) -> str:
    """Say it loudly.

    Args:
        text: What to say.
    """
    return text.upper() + "!"


@hookimpl
def register_transports(register: Any) -> None:
    register(
        "fake-echo",
        lambda model: FunctionTransport(_reverse),
        aliases=("echo",),
        prefixes=("fake:",),
    )


@hookimpl
def register_tools(register: Any) -> None:
    register(shout)


@hookimpl
def register_templates(register: Any) -> None:
    register("fake-pirate", "You are a pirate named {{ name }}. Answer in one line.")


@hookimpl
def register_commands(cli: Any) -> None:
    @cli.command("fake-hello")
    @click.argument("name")
    def fake_hello(name: str) -> None:
        """Greet NAME (from convo-fake-plugin)."""
        click.echo(f"hello {name} from the fake plugin")
