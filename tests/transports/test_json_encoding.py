"""The request body is encoded once, with orjson, into the same JSON the json module writes."""

from __future__ import annotations

import json

import pytest

from convo.transports._http import encode_json


def _stdlib(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": [{"role": "user", "content": 'é 🤖 中文 \u2028 \x00 "q" \\'}]},
        {"temperature": 0.7, "n": 2, "stop": ["\n", "END"], "logit_bias": {"50256": -100}},
        {"nested": {"a": [1, 2.5, True, None, {"b": []}]}, "big": 2**63 - 1},
    ],
)
def test_same_bytes_as_the_json_module(body: dict) -> None:
    assert encode_json(body) == _stdlib(body)


def test_values_orjson_refuses_fall_back() -> None:
    body = {"seed": 2**70, "extra": {1: "non-string key"}}
    assert encode_json(body) == _stdlib(body)
