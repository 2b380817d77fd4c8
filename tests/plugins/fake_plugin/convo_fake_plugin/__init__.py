"""A third-party convo plugin, installed by the test run to exercise real discovery.

Model ``fake-echo`` (alias ``echo``, prefix ``fake:``) answers with the last user
message reversed; tool ``shout``; template ``fake-pirate``; command ``convo fake-hello``.
"""

from __future__ import annotations

from typing import Any

import click

from convo import FunctionTransport, Request
from convo.plugins import hookimpl


def _reverse(request: Request) -> str:
    return f"{request.model}: {request.messages[-1].text[::-1]}"


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
