"""A tool-calling agent: the model calls Python functions until it can answer.

python examples/agent.py "What is 23 * 19, and what's the weather in Oslo?"
"""

from __future__ import annotations

import sys
from datetime import date

from convo import Conversation, tool
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


def main() -> None:
    question = " ".join(sys.argv[1:]) or "What is 23 * 19?"
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
        on_tool_result=lambda call, message: print(
            f"  [tool] {call.tool.name}({call.arguments}) -> {message.text}"
        ),
    )
    # Small local models rarely choose a tool by themselves: ask for one in the first
    # round ("required"); the rounds after it go back to "auto".
    reply = conv.send(question, tool_choice="required")
    print(reply.text)


if __name__ == "__main__":
    main()
