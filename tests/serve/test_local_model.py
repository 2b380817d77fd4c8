"""`convo serve` in front of the real in-process local model (it has no server of its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import require

require("llama_cpp", "needs llama-cpp-python")
require("convo_llamacpp", "needs the convo-llamacpp plugin")

from convo.serve import ServeConfig, create_app
from tests.serve.conftest import Served, Uvicorn

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = tmp_path_factory.mktemp("serve") / "local.db"
    server = Uvicorn(create_app(ServeConfig(db=f"sqlite:///{db}", model="local"))).start()
    served = Served(f"http://127.0.0.1:{server.port}/v1", None, ServeConfig())  # type: ignore[arg-type]
    try:
        yield served
    finally:
        served.close()  # its SDK clients' sockets, before the GC reports them in a later test
        server.stop()


def test_chat_with_memory_on_the_local_model(local: Served) -> None:
    client = local.client(default_headers={"X-Convo-Conversation": "local-1"})
    for text in ("My name is Ada.", "What is my name?"):
        reply = client.chat.completions.create(
            model="local",
            messages=[{"role": "user", "content": text}],
            max_tokens=12,
            temperature=0,
        )
        assert reply.choices[0].message.content
        assert reply.usage is not None and reply.usage.completion_tokens > 0
    items = client.conversations.items.list("local-1", order="asc")
    assert [i.role for i in items.data] == ["user", "assistant", "user", "assistant"]


def test_responses_stream_on_the_local_model(local: Served) -> None:
    client = local.client()
    events = list(
        client.responses.create(
            model="local", input="Say hi.", max_output_tokens=8, temperature=0, stream=True
        )
    )
    assert events[-1].type == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas and deltas == events[-1].response.output_text
    follow = client.responses.create(
        model="local",
        input="Again.",
        max_output_tokens=8,
        previous_response_id=events[-1].response.id,
    )
    assert follow.output_text
