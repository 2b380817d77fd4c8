"""One environment per process, one compile per template, cheap renders."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from convo.templates import Template, sandbox


def test_the_environment_is_made_once() -> None:
    assert sandbox.environment() is sandbox.environment()
    Template("a {{ b }}").render(b=1)
    assert sandbox.environment.cache_info().currsize == 1


def test_a_template_compiles_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = sandbox.compile_source

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("name", ""))
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox, "compile_source", counting)
    t = Template("system:\n{{ a }}\nuser:\n{{ b }}", name="once")
    for i in range(20):
        t.render(a=i, b=i)
        t.render_cached(a=1, b=2)
    assert calls == ["once"]


def test_render_cached_does_not_render_again(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Template("{{ a }}")
    renders: list[int] = []
    real = sandbox.render

    def counting(*args: Any, **kwargs: Any) -> Any:
        renders.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox, "render", counting)
    for _ in range(5):
        assert t.render_cached(a={"k": [1, 2]}) == "{'k': [1, 2]}"
    assert t.render_cached(a={"k": [1, 3]}) == "{'k': [1, 3]}"
    assert len(renders) == 2


def test_render_cached_is_bounded() -> None:
    t = Template("{{ a }}")
    for i in range(500):
        t.render_cached(a=i)
    assert len(t._cache) <= 64


def test_renders_in_threads_keep_their_own_budget() -> None:
    t = Template("system:\nS {{ n }}\nuser:\n{% for i in range(n) %}{{ i }}{% endfor %}")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(50):
                messages = t.render_messages(n=n)
                assert messages[0].text == f"S {n}"
                assert messages[1].text == "".join(map(str, range(n)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 9)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
