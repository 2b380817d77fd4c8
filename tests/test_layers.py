"""The import rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent / "convo"

# module (or package) -> imports it must never make (prefix match)
FORBIDDEN = {
    "messages": [
        "httpx",
        "httpx2",
        "sqlalchemy",
        "jinja2",
        "tiktoken",
        "convo.transports",
        "convo.store",
    ],
    "reply": ["httpx2", "sqlalchemy", "convo.transports", "convo.store"],
    "request": ["httpx2", "sqlalchemy", "convo.transports", "convo.store"],
    "errors": ["convo", "httpx2", "sqlalchemy"],
    "wire": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "streaming": ["httpx2", "sqlalchemy", "convo.transports", "convo.store"],
    "turn": [
        "httpx",
        "httpx2",
        "sqlalchemy",
        "convo.transports",
        "convo.store",
        "convo.conversation",
        "convo.cli",
    ],
    # The summary step and convo's own header metadata are parts of the turn.
    "summary": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "saved": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "pending": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "effects": [
        "httpx2",
        "sqlalchemy",
        "convo.transports",
        "convo.conversation",
        "convo.store.sql",
    ],
    "rounds": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    # Limits and prices are decisions of the turn: no I/O machinery.
    "limits": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "cost": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    # Tracing observes the turn's effects; it does no I/O of its own and knows no driver.
    "telemetry": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "redact": ["convo", "httpx2", "sqlalchemy"],
    # Cassettes sit at the transport boundary: they know transports, never a conversation.
    "testing": ["sqlalchemy", "convo.store", "convo.conversation", "convo.turn", "convo.state"],
    "events": ["convo.transports", "convo.store", "convo.conversation", "httpx2", "sqlalchemy"],
    "budget": ["httpx2", "sqlalchemy", "convo.transports", "convo.store"],
    "tokens": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "templates": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "tools": ["httpx2", "sqlalchemy", "convo.transports", "convo.store", "convo.conversation"],
    "structured": ["httpx2", "sqlalchemy", "convo.transports", "convo.store"],
    "transports": ["sqlalchemy", "convo.store", "convo.conversation", "convo.turn", "convo.cli"],
    "store": ["httpx2", "convo.transports", "convo.conversation", "convo.turn", "convo.cli"],
    "state": [
        "httpx",
        "httpx2",
        "sqlalchemy",
        "convo.cli",
        "convo.store.sql",
        "convo.transports.openai",
    ],
    # MCP toolsets are tools: they know no conversation, store or model transport.
    "mcp": [
        "sqlalchemy",
        "convo.transports",
        "convo.store",
        "convo.conversation",
        "convo.turn",
        "convo.cli",
    ],
    "conversation": [
        "httpx",
        "httpx2",
        "sqlalchemy",
        "convo.cli",
        "convo.store.sql",
        "convo.store.models",
    ],
    # The server drives conversations through the public API only: no turn internals,
    # no store machinery, no HTTP client of its own (the transports talk upstream).
    "serve": [
        "httpx",
        "httpx2",
        "sqlalchemy",
        "convo.turn",
        "convo.state",
        "convo.effects",
        "convo.rounds",
        "convo.cli",
        "convo.store.sql",
        "convo.store._engine",
        "convo.store.models",
        "convo.transports.openai",
    ],
}

# The playground only serves its files: it never sees a conversation, a store or a key.
FORBIDDEN["playground"] = [
    "httpx",
    "httpx2",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "convo.transports",
    "convo.store",
    "convo.conversation",
    "convo.turn",
    "convo.cli",
]

# Nothing in the core knows the server (it is an optional extra on top).
for _part in list(FORBIDDEN):
    if _part != "serve":
        FORBIDDEN[_part] = [*FORBIDDEN[_part], "convo.serve", "starlette", "uvicorn"]

# The values a store speaks in (convo/store/base.py: pydantic only) may be known by the
# turn, which plans the commit in them; the store's machinery may not.
ALLOWED = {"turn": {"convo.store.base"}, "effects": {"convo.store.base"}}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(name: str) -> list[Path]:
    package = ROOT / name
    if package.is_dir():
        return sorted(p for p in package.rglob("*.py") if "migrations" not in p.parts)
    return [ROOT / f"{name}.py"]


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_layer_imports(part: str) -> None:
    files = _files(part)
    assert files and all(f.exists() for f in files), part
    for path in files:
        for imported in _imports(path):
            for banned in FORBIDDEN[part]:
                if part == "errors" and banned == "convo" and imported == "__future__":
                    continue
                if imported in ALLOWED.get(part, ()):
                    continue
                assert not (imported == banned or imported.startswith(banned + ".")), (
                    f"{path.relative_to(ROOT.parent)} imports {imported}, which {part} may not know"
                )


# Other wire formats are built on the transport protocol and its public pieces (retry
# policy, SSE decoder, the FormatTransport driver), never on the Chat Completions
# transport's internals, which change on their own.
FORMAT_MODULES = [
    ROOT / "transports" / "formats.py",
    ROOT / "transports" / "responses.py",
    ROOT / "transports" / "fallback.py",
    *sorted((ROOT.parent / "plugins" / "convo-anthropic" / "convo_anthropic").glob("*.py")),
]


@pytest.mark.parametrize("path", FORMAT_MODULES, ids=lambda p: p.name)
def test_wire_formats_use_only_public_transport_pieces(path: Path) -> None:
    for imported in _imports(path):
        if not imported.startswith("convo."):
            continue
        assert imported not in ("convo.transports.openai", "convo.turn", "convo.conversation")
        assert not any(part.startswith("_") for part in imported.split(".")), (
            f"{path.name} imports the private module {imported}"
        )
