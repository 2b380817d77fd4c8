"""convo's pytest plugin (a ``pytest11`` entry point): cassettes named after the test.

``convo_cassette(transport)`` returns a :class:`~convo.testing.Cassette` stored as
``cassettes/<test module>/<test name>.json`` beside the test file. It replays when
the file exists and records when it does not; ``pytest --convo-record`` records
again. The cassette is closed when the test ends (strict ones check that every
recorded interaction was played)::

    def test_greeting(convo_cassette):
        tape = convo_cassette(OpenAITransport())
        conv = Conversation(model="gpt-4o-mini", transport=tape)
        assert conv.send("Hi").text
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from convo.testing.cassette import Cassette
from convo.transports.base import Transport

__all__ = ["convo_cassette", "pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convo")
    group.addoption(
        "--convo-record",
        action="store_true",
        default=False,
        help="record convo cassettes again (forwarding to the real transport)",
    )


def _name(node: pytest.Item) -> str:
    # A parametrized test gets one file per parameter set; unsafe characters become "_".
    return re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", node.name)


@pytest.fixture
def convo_cassette(request: pytest.FixtureRequest) -> Iterator[Callable[..., Cassette]]:
    """A factory of cassettes named after the test: ``convo_cassette(transport)``."""
    made: list[Cassette] = []
    record = bool(request.config.getoption("--convo-record"))
    folder = Path(request.path).parent / "cassettes" / Path(request.path).stem

    def make(transport: Transport | None = None, **kwargs: Any) -> Cassette:
        suffix = f".{len(made) + 1}" if made else ""
        path = folder / f"{_name(request.node)}{suffix}.json"
        kwargs.setdefault("mode", "record" if record else "auto")
        tape = Cassette(path, transport, **kwargs)
        made.append(tape)
        return tape

    yield make
    for tape in made:
        tape.close()
