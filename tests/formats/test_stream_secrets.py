"""Issue #13: no error raised while an Anthropic or Responses stream is read carries
the API key, whatever part of the streamed body the server echoed it in."""

from __future__ import annotations

from typing import Any

import pytest

from convo.errors import ConvoError, ProtocolError, StreamError
from convo.transports.formats import FormatTransport
from tests.formats.conftest import KEY
from tests.formats.test_against_test_server import collect, request
from tests.support import ChatServer, Events, Respond
from tests.transports.test_stream_secrets import everything

_ERROR = f'{{"type": "error", "error": {{"type": "{KEY}", "message": "bad key {KEY}"}}}}'
_FAILED = {
    "type": "response.failed",
    "response": {"error": {"code": KEY, "message": f"bad key {KEY}"}},
}

STREAMS: dict[str, tuple[type[ConvoError], Any]] = {
    "error event": (StreamError, Events([f"event: error\ndata: {_ERROR}\n\n"], done=False)),
    "malformed chunk": (
        ProtocolError,
        Events([f'event: message_start\ndata: {{"oops": "{KEY}\n\n'], done=False),
    ),
    "chunk not an object": (
        ProtocolError,
        Events([f'event: message_start\ndata: ["{KEY}"]\n\n'], done=False),
    ),
    "not an event stream": (ProtocolError, Respond(200, f"key {KEY}", content_type="text/plain")),
}


@pytest.mark.parametrize("case", list(STREAMS))
async def test_no_streamed_error_shows_the_key(
    transport: FormatTransport, chat_server: ChatServer, mode: str, case: str
) -> None:
    kind, item = STREAMS[case]
    transport.max_retries = 0
    chat_server.script(item)
    with pytest.raises(kind) as info:
        await collect(transport, request(stream=True), mode)
    assert KEY not in everything(info.value)


async def test_a_failed_response_does_not_show_the_key(chat_server: ChatServer, mode: str) -> None:
    from tests.formats.conftest import make

    transport = make("responses", chat_server.url, max_retries=0)
    try:
        chat_server.script(Events([f"event: response.failed\ndata: {_json(_FAILED)}\n\n"]))
        with pytest.raises(StreamError) as info:
            await collect(transport, request(stream=True), mode)
        assert KEY not in everything(info.value)
    finally:
        await transport.aclose()


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
