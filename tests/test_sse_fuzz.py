"""Fuzz the SSE decoder: any events, any line endings, split anywhere, decode the same."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from convo.transports.sse import ServerSentEvent, SSEDecoder

# Data may hold anything but the line breaks SSE splits on; U+2028, emoji and CJK stay.
_line = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)))
_name = st.text(
    st.characters(blacklist_characters="\r\n:", blacklist_categories=("Cs",)), min_size=1
)
_event = st.tuples(st.one_of(st.none(), _name), st.lists(_line, min_size=1, max_size=4))
_newline = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    events = draw(st.lists(_event, max_size=6))
    bom = draw(st.booleans())
    parts: list[str] = []
    last = ""

    def newline() -> str:
        # A CR then an LF from the next draw would be one CRLF: keep them two line ends.
        nonlocal last
        drawn = draw(_newline)
        last = "\r\n" if last == "\r" and drawn == "\n" else drawn
        return last

    expected = []
    for name, lines in events:
        if draw(st.booleans()):
            parts.append(": comment" + newline())
        if name is not None:
            parts.append(f"event: {name}" + newline())
        for line in lines:
            parts.append(
                f"data:{' ' if line.startswith(' ') else draw(st.sampled_from(['', ' ']))}{line}"
                + newline()
            )
        parts.append(newline())
        expected.append(ServerSentEvent(event=name or "message", data="\n".join(lines)))
    raw = ("\ufeff" if bom else "") + "".join(parts)
    return raw.encode(), expected


@settings(max_examples=400, deadline=None)
@given(streams(), st.lists(st.integers(min_value=0), max_size=12))
def test_any_split_decodes_the_same(
    stream: tuple[bytes, list[ServerSentEvent]], cuts: list[int]
) -> None:
    raw, expected = stream
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    decoder = SSEDecoder()
    events = [e for piece in pieces for e in decoder.feed(piece)] + decoder.flush()
    assert [(e.event, e.data) for e in events] == [(e.event, e.data) for e in expected]
