"""An agent whose tools come from an MCP server (runs offline with the local model).

python examples/mcp/agent.py "What do my notes say about Oslo?"

The server (``notes_server.py`` beside this file) runs as a subprocess for as long as
the ``with`` block: one session, its tools listed once, the process ended on exit.
Needs ``pip install 'convo[mcp]'``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import convo.mcp
from convo import Conversation
from convo.models import default_model

SERVER = Path(__file__).with_name("notes_server.py")


def main() -> None:
    question = " ".join(sys.argv[1:]) or "What do my notes say about Oslo?"
    with convo.mcp.stdio(sys.executable, [str(SERVER)]) as notes:
        print(f"tools: {', '.join(notes.names())}; prompts: {', '.join(notes.templates)}")
        conv = Conversation(
            "You answer from the user's notes; search them first.",
            model=default_model(),
            tools=[notes],
            tool_timeout=30,  # bounds every MCP call, as it bounds local tools
            max_tool_rounds=1,  # small local models tend to call again: one round, then answer
            on_max_tool_rounds="answer",
            temperature=0,
            max_tokens=200,
            on_tool_result=lambda call, message: print(
                f"  [tool] {call.tool.name}({call.arguments}) -> {message.text}"
            ),
        )
        # Small local models rarely choose a tool by themselves: ask for one first.
        print(conv.send(question, tool_choice="required").text)


if __name__ == "__main__":
    main()
