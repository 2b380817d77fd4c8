"""A tool-calling agent: the model calls Python functions until it can answer.

python examples/agent.py "What is 23 * 19, and what's the weather in Oslo?"

When the model spends its tool round and still answers with a tool call (small
local models often write one as text once tools are turned off), the example says
so and prints what the tools returned, instead of passing the call off as an answer.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from typing import Any

from convo import Conversation, Message, tool
from convo.models import default_model


@tool
def multiply(a: float, b: float) -> float:
    """Multiply two numbers.

    Args:
        a: The first factor.
        b: The second factor.
    """
    return a * b


@tool
def weather(city: str) -> dict[str, object]:
    """Today's weather in a city.

    Args:
        city: The city name, e.g. "Oslo".
    """
    # A stand-in data source: a real agent would call a weather API here.
    return {"city": city, "date": date.today().isoformat(), "forecast": "light rain", "celsius": 7}


# How models write a tool call as text: bare JSON, in a code fence, or in Qwen's tags.
_WRAPPERS = re.compile(r"^\s*(?:```(?:json)?|<tool_call>)\s*|\s*(?:```|</tool_call>)\s*$")


def is_tool_call(text: str) -> bool:
    """Whether a reply is a tool call written as text rather than an answer.

    >>> is_tool_call('{"name": "weather", "arguments": {"city": "Oslo"}}')
    True
    >>> is_tool_call("23 * 19 = 437.")
    False
    """
    try:
        data = json.loads(_WRAPPERS.sub("", text))
    except ValueError:
        return False
    calls = data if isinstance(data, list) else [data]
    return bool(calls) and all(
        isinstance(c, dict) and "name" in c and ({"arguments", "parameters"} & set(c))
        for c in calls
    )


def main() -> None:
    question = " ".join(sys.argv[1:]) or "What is 23 * 19?"
    results: list[str] = []

    def show(call: Any, message: Message) -> None:
        line = f"{call.tool.name}({call.arguments}) -> {message.text}"
        results.append(line)
        print(f"  [tool] {line}")

    conv = Conversation(
        "You are an assistant that uses tools for arithmetic and weather. "
        "Call a tool whenever it can answer part of the question.",
        model=default_model(),
        tools=[multiply, weather],
        # After one round of tools, ask for the answer instead of more calls: small
        # local models tend to call again; a larger model may be given more rounds.
        max_tool_rounds=1,
        on_max_tool_rounds="answer",
        temperature=0,
        max_tokens=300,
        on_tool_result=show,
    )
    # Small local models rarely choose a tool by themselves: ask for one in the first
    # round ("required"); the rounds after it go back to "auto".
    reply = conv.send(question, tool_choice="required")
    if reply.text.strip() and not is_tool_call(reply.text):
        print(reply.text)
        return
    print(
        "The model gave no answer: after its tool round it asked for another tool call. "
        "What the tools returned:",
        file=sys.stderr,
    )
    for line in results or ["(no tool was called)"]:
        print(f"  {line}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
