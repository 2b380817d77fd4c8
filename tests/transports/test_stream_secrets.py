"""Issue #13: no error raised while a stream is read carries the API key, whatever
part of the streamed body the server echoed it in (sync and async)."""

from __future__ import annotations

from typing import Any

import pytest

from convo.errors import ConvoError, ProtocolError, StreamError
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer, Events, Respond
from tests.transports.helpers import KEY, collect, make_request


def everything(err: BaseException) -> str:
    """All an error shows: str, repr, args, attributes (body, snippet, type, code...),
    and the same for what it was raised from or during."""
    seen: list[BaseException] = []
    node: BaseException | None = err
    while node is not None and node not in seen:
        seen.append(node)
        node = node.__cause__ or node.__context__
    return " ".join(f"{e!s} {e!r} {e.args!r} {vars(e)!r}" for e in seen)


STREAMS: dict[str, tuple[type[ConvoError], Any]] = {
    "error event": (
        StreamError,
        Events([f'event: error\ndata: {{"error": {{"message": "{KEY}", "code": "{KEY}"}}}}\n\n']),
    ),
    "error object in a chunk": (
        StreamError,
        Events([{"error": {"message": f"key {KEY} revoked", "type": KEY, "code": KEY}}]),
    ),
    "malformed chunk": (ProtocolError, Events([f'data: {{"oops": "{KEY}\n\n'], done=False)),
    "chunk not an object": (ProtocolError, Events([f'data: ["{KEY}"]\n\n'], done=False)),
    # A server that ignores "stream" and answers JSON that is no completion.
    "JSON that is no completion": (ProtocolError, Respond(200, {"object": "x", "note": KEY})),
    "JSON completion with a bad message": (
        ProtocolError,
        Respond(200, {"choices": [{"index": 0, "message": {"role": KEY, "content": KEY}}]}),
    ),
    "neither JSON nor events": (
        ProtocolError,
        Respond(200, f"key {KEY}", content_type="text/plain"),
    ),
}


@pytest.mark.parametrize("case", list(STREAMS))
async def test_no_streamed_error_shows_the_key(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, case: str
) -> None:
    kind, item = STREAMS[case]
    transport.max_retries = 0
    chat_server.script(item)
    with pytest.raises(kind) as info:
        await collect(transport, make_request(stream=True), mode)
    assert KEY not in everything(info.value)
