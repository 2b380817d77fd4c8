"""``GET /v1/conversations`` (convo's own: OpenAI has no list), and the window in ``/v1/models``.

Over real HTTP with the official SDK's raw ``get``; the server's upstream is the local
test server.
"""

from __future__ import annotations

from typing import Any

import pytest

from convo.budget import context_window
from tests.serve.conftest import KEYS, Served

openai = pytest.importorskip("openai")


def listing(client: Any, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = client.get(
        "/conversations", cast_to=object, options={"params": params}
    )
    return result


def test_lists_conversations_made_every_way_newest_first_and_not_responses(
    served: Served,
) -> None:
    client = served.client()
    made = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "remember 42"}]
    )
    client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "about llamas"}],
        extra_headers={"X-Convo-Conversation": "by-header"},
    )
    client.responses.create(model="m", input="a stored response, not a conversation")
    page = listing(client)
    assert [c["id"] for c in page["data"]] == ["by-header", made.id]
    first = page["data"][0]
    assert first["object"] == "conversation" and first["message_count"] == 2
    assert "llamas" in first["preview"] and not page["has_more"]
    assert [c["id"] for c in listing(client, search="remember")["data"]] == [made.id]
    assert [c["id"] for c in listing(client, limit=1)["data"]] == ["by-header"]
    assert listing(client, limit=1)["has_more"]
    with pytest.raises(openai.BadRequestError):
        listing(client, limit=0)


def test_a_tenant_lists_only_its_own(keyed: Served) -> None:
    alice, bob = keyed.client(KEYS[0]), keyed.client(KEYS[1])
    mine = alice.conversations.create()
    assert [c["id"] for c in listing(alice)["data"]] == [mine.id]
    assert listing(bob)["data"] == []
    with pytest.raises(openai.AuthenticationError):
        listing(keyed.client("sk-nobody"))


def test_models_say_their_window(served: Served) -> None:
    models = served.client().get("/models", cast_to=object)
    assert models["data"] and all(
        m["context_window"] == context_window(m["id"]) for m in models["data"]
    )


def test_the_playground_is_mounted(served: Served) -> None:
    import httpx2  # convo's own HTTP client: httpx itself is not a dependency

    base = served.url.removesuffix("/v1")
    page = httpx2.get(f"{base}/playground/")
    assert page.status_code == 200 and "main.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
