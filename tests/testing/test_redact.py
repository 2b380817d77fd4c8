"""What counts as a credential: names and key shapes, everywhere in a JSON value."""

from __future__ import annotations

from convo.redact import SCRUBBED, scrub

GOOGLE = "AIzaSyD4f1c9a7e2b8d6c3a5e0f1234567890ab"
OPENAI = "sk-proj-Zx81Qm4Tn7Wc2Ye5Ru9Io3Pa6Sd0Fg"


def test_values_under_credential_names() -> None:
    value = {
        "api_key": "x",
        "Authorization": "Basic abc",
        "x-api-key": "y",
        "password": "p",
        "access_token": "t",
        "max_tokens": 10,  # a name that merely contains "token" stays
        "prompt_tokens": 3,
        "nested": [{"client_secret": "s", "text": "kept"}],
        "schema": {"key": {"type": "string"}},  # a schema property named key stays
    }
    assert scrub(value) == {
        "api_key": SCRUBBED,
        "Authorization": SCRUBBED,
        "x-api-key": SCRUBBED,
        "password": SCRUBBED,
        "access_token": SCRUBBED,
        "max_tokens": 10,
        "prompt_tokens": 3,
        "nested": [{"client_secret": SCRUBBED, "text": "kept"}],
        "schema": {"key": {"type": "string"}},
    }


def test_key_shaped_strings_anywhere() -> None:
    text = (
        f"keys {OPENAI} and {GOOGLE}; header Bearer abc.def-123; "
        f"url https://x.test/v1?key=secret123&a=1 and ?access_token=tok456"
    )
    out = scrub(text)
    for secret in (OPENAI, GOOGLE, "abc.def-123", "secret123", "tok456"):
        assert secret not in out
    assert "Bearer <scrubbed>" in out and "?key=<scrubbed>&a=1" in out
    assert scrub("a short sk-1 is not a key") == "a short sk-1 is not a key"


def test_literal_secrets() -> None:
    assert scrub({"user": "hunter2"}, secrets=["hunter2", ""]) == {"user": SCRUBBED}
