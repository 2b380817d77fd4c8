"""The function-calling format's markers never reach a reply's text (no model needed).

``fixtures/llamacpp_raw_outputs.json`` holds what Qwen2.5-Coder-0.5B wrote after
``message:`` with tools offered on "auto" (the format's own first choice, made under
its grammar, was ``message:`` for all ten prompts), at temperature 0 and 0.8, one
and two tools offered: the text llama-cpp-python's handler, and this plugin before
the filter, saved as the reply. Each entry records the text and the call the filter
makes of it, checked by eye when the fixtures were collected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import require

require("convo_llamacpp", "needs the convo-llamacpp plugin")

from convo_llamacpp.scaffolding import Scaffolding, clean

RAW: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "llamacpp_raw_outputs.json").read_text("utf-8")
)
# A marker of the format: at a line's start, "message:" (perhaps quoted) or "functions.<name>".
MARKER = re.compile(r"""(?m)^[ \t"'`]*(message:|functions\.[A-Za-z_])""")


def test_the_fixtures_hold_the_leaks_seen() -> None:
    leaked = [r for r in RAW if MARKER.search(r["raw"])]
    assert len(leaked) >= 10  # the format's text was in many raw answers
    assert {r["call"] for r in RAW} >= {"get_weather", "add", None}


@pytest.mark.parametrize("raw", RAW, ids=lambda r: f"{r['prompt'][:24]}-{r['temperature']}")
def test_no_marker_is_left_in_the_text(raw: dict[str, Any]) -> None:
    text, call = clean(raw["raw"], raw["tools"])
    assert not MARKER.search(text), text
    assert (text, call) == (raw["text"], raw["call"])
    assert call is None or call in raw["tools"]


@pytest.mark.parametrize("raw", RAW, ids=lambda r: f"{r['prompt'][:24]}-{r['temperature']}")
def test_streamed_piece_by_piece_it_is_the_same(raw: dict[str, Any]) -> None:
    # The model's pieces may split a marker anywhere: one character at a time is the worst.
    s = Scaffolding(raw["tools"])
    shown = [s.feed(ch) for ch in raw["raw"]]
    assert "".join(shown) + s.finish() == raw["text"]
    assert s.call == raw["call"]
    for n in range(len(shown)):  # nothing of a marker was ever shown, even for a moment
        assert not MARKER.search("".join(shown[: n + 1]))


def test_a_call_ends_the_text_and_names_an_offered_tool() -> None:
    text, call = clean('Checking.\n\nfunctions.get_weather:\n{"city": "Oslo"}', ["get_weather"])
    assert (text, call) == ("Checking.", "get_weather")
    text, call = clean('Checking.\nfunctions.delete_all:\n{"yes": true}', ["get_weather"])
    assert (text, call) == ("Checking.", None)  # not offered: no call, and no format shown
    s = Scaffolding(["get_weather"])
    s.feed("functions.get_weather:")
    assert s.done and s.feed("more text") == ""


def test_prose_that_merely_looks_like_the_format_is_kept() -> None:
    for text in (
        "You can call `functions.get_weather` to get it.",
        "The message: it was sent.",
        "functions.\nfunctions.)",
        "mess",
        "message",  # a line that never became the marker, held back and then shown
        "A\n\nB\n",
    ):
        assert clean(text, ["get_weather"]) == (text.rstrip("\n"), None), text


def test_message_markers_are_dropped_wherever_a_line_starts() -> None:
    assert clean("message:\nHi!\nmessage: Bye.", []) == ("Hi!\nBye.", None)
    assert clean('"message: Are you in Paris?"', []) == ('Are you in Paris?"', None)
