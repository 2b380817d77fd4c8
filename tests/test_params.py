from __future__ import annotations

import math

import pytest

from convo import ParameterError
from convo.params import check_params


def test_known_parameters_pass_unchanged() -> None:
    params = {
        "temperature": 0.7,
        "max_tokens": 150,
        "top_p": 1,
        "n": 2,
        "stop": ["\n"],
        "presence_penalty": -2,
        "frequency_penalty": 2.0,
        "user": "u1",
        "seed": 7,
        "logprobs": True,
        "max_completion_tokens": 9,
        "vendor_extra": {"a": 1},
    }
    assert check_params(params) == params


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("temperature", 2.1),
        ("temperature", -0.1),
        ("temperature", "hot"),
        ("temperature", math.nan),
        ("top_p", 1.5),
        ("presence_penalty", -2.5),
        ("frequency_penalty", 3),
        ("n", 0),
        ("n", 1.5),
        ("max_tokens", 0),
        ("max_tokens", True),
        ("stop", 5),
        ("stop", ["a", 1]),
        ("user", 3),
        ("temperature", True),
    ],
)
def test_out_of_range(key: str, value: object) -> None:
    with pytest.raises(ParameterError) as info:
        check_params({key: value})
    assert info.value.param == key
    assert key in str(info.value)


@pytest.mark.parametrize("key", ["messages", "stream"])
def test_reserved(key: str) -> None:
    with pytest.raises(ParameterError, match="set by the conversation"):
        check_params({key: 1})
