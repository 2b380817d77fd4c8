"""The SSE decoder: every framing the spec lists, fed whole and split at every byte."""

from __future__ import annotations

import json

import pytest

from convo.errors import IncompleteStreamError, ProtocolError
from convo.transports.sse import ServerSentEvent, SSEDecoder


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    d = SSEDecoder()
    events = [e for c in chunks for e in d.feed(c)]
    return events + d.flush()


def every_split(raw: bytes) -> list[list[ServerSentEvent]]:
    """The events for ``raw`` cut once at each position, and cut into single bytes."""
    results = [decode(raw[:i], raw[i:]) for i in range(len(raw) + 1)]
    results.append(decode(*(raw[i : i + 1] for i in range(len(raw)))))
    return results


def datas(events: list[ServerSentEvent]) -> list[str]:
    return [e.data for e in events]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"data: a\n\ndata: b\n\n", ["a", "b"]),
        (b"data: a\r\n\r\ndata: b\r\n\r\n", ["a", "b"]),
        (b"data: a\r\rdata: b\r\r", ["a", "b"]),  # lone CR line endings
        (b"data: a\r\n\ndata: b\n\r\n", ["a", "b"]),  # mixed endings
        (b": ping\n\ndata: a\n\n: keep-alive\n\n", ["a"]),
        (b"\xef\xbb\xbfdata: a\n\n", ["a"]),  # a BOM at the start
        (b"retry: 3000\n\ndata: a\n\n", ["a"]),  # a retry-only event dispatches nothing
        (b"data: line 1\ndata: line 2\n\n", ["line 1\nline 2"]),
        (b"data:[DONE]\n\n", ["[DONE]"]),
        (b"data:  two spaces\n\n", [" two spaces"]),  # only one space is removed
        (b"data\n\n", [""]),  # a field with no colon
        (b"event: x\n\ndata: a\n\n", ["a"]),  # an event name without data is dropped
        (b"data: a\n", []),  # whole lines, no final blank line: never dispatched (WHATWG)
        (b"data: a\n\ndata: b\n", ["a"]),  # a body cut after a complete line is not data
    ],
)
def test_framings_at_every_split(raw: bytes, expected: list[str]) -> None:
    for events in every_split(raw):
        assert datas(events) == expected


def test_fields() -> None:
    (event,) = decode(b"event: error\nid: 7\nretry: 1500\ndata: x\n\n")
    assert event == ServerSentEvent(event="error", data="x", id="7", retry=1500)
    (event,) = decode(b"retry: soon\nid: a\0b\ndata: x\n\n")
    assert (event.retry, event.id, event.event) == (None, "", "message")


def test_unicode_line_separators_stay_inside_json() -> None:
    payload = {"content": "a\u2028b\u2029c\x85d\x0be\x0cf", "emoji": "😀", "cjk": "漢字"}
    raw = b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"
    for events in every_split(raw):
        assert [json.loads(e.data) for e in events] == [payload]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    assert datas(decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n")) == ["a", "b"]
    assert datas(decode(b"data: a\r", b"\n", b"\r", b"\n")) == ["a"]


def test_a_bom_split_across_chunks() -> None:
    assert datas(decode(b"\xef", b"\xbb", b"\xbfdata: a\n\n")) == ["a"]


def test_a_bom_after_the_start_is_data() -> None:
    assert datas(decode(b"data: a\n\n\xef\xbb\xbfdata: b\n\n")) == ["a"]


def test_invalid_utf8_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid UTF-8"):
        decode(b"data: \xff\xfe\n\n")


def test_ending_mid_line_is_incomplete() -> None:
    d = SSEDecoder()
    assert d.feed(b'data: {"a": 1}\n\ndata: {"b"') == [ServerSentEvent(data='{"a": 1}')]
    with pytest.raises(IncompleteStreamError, match="middle of a line") as info:
        d.flush()
    assert info.value.snippet == 'data: {"b"'


def test_a_10_mb_event_in_small_chunks_is_linear() -> None:
    body = b"x" * (10 * 1024 * 1024)
    raw = b"data: " + body + b"\n\n"
    d = SSEDecoder()
    events = []
    step = 4096
    for i in range(0, len(raw), step):
        events.extend(d.feed(raw[i : i + step]))
    assert [len(e.data) for e in events] == [len(body)]


def test_whole_data_events_take_the_fast_path_without_losing_state() -> None:
    d = SSEDecoder()
    assert [e.data for e in d.feed(b"data: first\n\n")] == ["first"]
    assert [e.data for e in d.feed(b'data: {"a": 1}\n\n')] == ['{"a": 1}']
    assert d.feed(b"event: error\nid: 7\n") == []  # an event name waiting for its data
    (event,) = d.feed(b"data: boom\n\n")
    assert (event.event, event.data, event.id) == ("error", "boom", "7")
    (event,) = d.feed(b"data:no-space\n\n")
    assert (event.event, event.data, event.id) == ("message", "no-space", "7")
    assert [e.data for e in d.feed(b"data: a\ndata: b\n\n")] == ["a\nb"]
    with pytest.raises(ProtocolError):
        d.feed(b"data: \xff\n\n")
