"""A small MCP server, written with the official SDK: a notebook the model can use.

Run by ``examples/mcp/agent.py`` over stdio; any MCP client can use it:

    python examples/mcp/notes_server.py
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes", instructions="A notebook: add notes, then search them.")
NOTES: list[str] = ["Buy oat milk", "Call Ada about the Oslo trip", "Oslo: book the hotel"]


@server.tool()
def add_note(text: str) -> str:
    """Add a note to the notebook."""
    NOTES.append(text)
    return f"added note {len(NOTES)}"


@server.tool()
def search_notes(word: str) -> list[str]:
    """The notes that mention a word (any case)."""
    return [n for n in NOTES if word.lower() in n.lower()]


@server.prompt()
def summarize(topic: str) -> str:
    """Ask for a summary of the notes about a topic."""
    return f"Search my notes about {topic} and summarize them in one sentence."


if __name__ == "__main__":
    server.run("stdio")
