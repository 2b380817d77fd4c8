"""Every public sync method of Conversation has its async twin with the same parameters."""

from __future__ import annotations

import inspect

from convo import AsyncConversation, Conversation

TWINS = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}


def test_every_sync_method_has_an_async_twin() -> None:
    for name, member in vars(Conversation).items():
        if (name.startswith("_") and name not in TWINS) or not callable(member):
            continue
        twin_name = TWINS.get(name, name)
        twin = getattr(AsyncConversation, twin_name, None)
        assert twin is not None, f"AsyncConversation lacks {twin_name}"
        sync_fn = inspect.unwrap(getattr(Conversation, name))
        async_fn = inspect.unwrap(twin)
        if name != "stream":
            assert inspect.iscoroutinefunction(async_fn), twin_name
        assert list(inspect.signature(sync_fn).parameters) == list(
            inspect.signature(async_fn).parameters
        ), name
