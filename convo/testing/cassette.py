"""Record a transport's traffic once, replay it offline: :class:`Cassette`.

A cassette is itself a :class:`~convo.Transport` that wraps another one. It sits at
convo's own transport boundary (a :class:`~convo.Request` in; a
:class:`~convo.Reply`, chunks or a convo error out), not at the HTTP layer, so it
works for every transport - the HTTP one and in-process models alike - keeps a
stream's chunks one by one, and does not depend on how a transport talks HTTP.

>>> import tempfile, os
>>> from convo import Conversation, ScriptedTransport
>>> path = os.path.join(tempfile.mkdtemp(), "hello.json")
>>> with Cassette(path, ScriptedTransport("Hello!")) as tape:   # no file yet: records
...     Conversation(model="test", transport=tape).send("Hi").text
'Hello!'
>>> with Cassette(path) as tape:                                # the file exists: replays
...     Conversation(model="test", transport=tape).send("Hi").text
'Hello!'
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from convo import errors
from convo.errors import CassetteError, CassetteMismatchError, ConvoError
from convo.redact import scrub
from convo.reply import Reply
from convo.request import Request
from convo.transports.base import Chunk, Transport

__all__ = ["Cassette"]

FORMAT = 1
Mode = Literal["record", "replay", "auto"]
# What the turn adds to a reply itself: never part of what the model answered.
_TURN_FIELDS = {"chosen", "parsed", "prompt_tokens_local", "turn_usage", "pending"}


class Cassette(Transport):
    """A transport that records ``transport``'s requests and answers to ``path``
    (JSON), or answers from it without any I/O.

    ``mode``: ``"record"`` forwards every request and (re)writes the file;
    ``"replay"`` answers only from the file; ``"auto"`` replays when the file exists,
    else records. A request matches a recording when its normalized body (model,
    messages, parameters, tools) is the same; identical requests replay in the order
    they were recorded. ``strict=True`` makes :meth:`close` fail when recorded
    interactions were never played. ``secrets`` are literal values to scrub besides
    the key-shaped ones found by :func:`convo.redact.scrub`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        transport: Transport | None = None,
        mode: Mode = "auto",
        *,
        strict: bool = False,
        secrets: Iterable[str] = (),
    ) -> None:
        if mode not in ("record", "replay", "auto"):
            raise ValueError(f"mode must be 'record', 'replay' or 'auto', not {mode!r}")
        self.path = Path(path)
        if mode == "auto":
            mode = "replay" if self.path.exists() else "record"
        if mode == "record" and transport is None:
            raise CassetteError(f"recording {self.path} needs a transport to forward to")
        self.mode: Literal["record", "replay"] = mode
        self.transport = transport
        self.strict = strict
        self._secrets = tuple(secrets)
        self._lock = threading.Lock()
        self._interactions: list[dict[str, Any]] = []
        self._played: set[int] = set()
        self._meta: dict[str, Any] = {}
        if mode == "replay":
            self._interactions = self._read()
            self.structured_output = self._meta.get("structured_output", "json_schema")
        elif transport is not None:
            self.structured_output = transport.structured_output
            self._meta = {"structured_output": transport.structured_output}
            if provider := getattr(transport, "provider_name", None):
                self._meta["provider_name"] = str(provider)
        # What traces name the provider: the wrapped transport's, recorded with it.
        self.provider_name = self._meta.get("provider_name")

    # -- the file ---------------------------------------------------------------------

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CassetteError(f"{self.path} cannot be read as a cassette: {exc}") from None
        if not isinstance(data, dict) or data.get("convo_cassette") != FORMAT:
            raise CassetteError(f"{self.path} is not a convo cassette (format {FORMAT})")
        self._meta = {k: v for k, v in data.items() if k not in ("convo_cassette", "interactions")}
        interactions: list[dict[str, Any]] = data.get("interactions", [])
        return interactions

    def _write(self) -> None:
        # The whole file, atomically, after every interaction: a test that crashes midway
        # leaves a valid cassette of what was recorded so far.
        data = {"convo_cassette": FORMAT, **self._meta, "interactions": self._interactions}
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._interactions.append(scrub(entry, self._secrets))
            self._write()

    # -- matching ---------------------------------------------------------------------

    def _key(self, request: Request) -> Any:
        # Normalized: JSON types only (tuples become lists), secrets scrubbed the same
        # way as at record time, so a key in a body still matches its recording.
        body: Any = scrub(json.loads(json.dumps(request.body, default=str)), self._secrets)
        return body

    def _take(self, request: Request, stream: bool) -> dict[str, Any]:
        key = self._key(request)
        with self._lock:
            for i, entry in enumerate(self._interactions):
                if i not in self._played and entry["request"] == key and entry["stream"] == stream:
                    self._played.add(i)
                    return entry
            raise self._mismatch(key, stream)

    def _mismatch(self, key: Any, stream: bool) -> CassetteMismatchError:
        mine = _pretty(key)
        kind = "stream" if stream else "complete"
        if not self._interactions:
            return CassetteMismatchError(f"{self.path} has no recorded interaction ({kind})")
        if len(self._played) == len(self._interactions):
            used = f"all {len(self._interactions)} recorded interactions were played; "
        else:
            used = ""
        best = max(
            range(len(self._interactions)),
            key=lambda i: difflib.SequenceMatcher(
                None, _pretty(self._interactions[i]["request"]), mine
            ).ratio(),
        )
        closest = self._interactions[best]
        diff = "".join(
            difflib.unified_diff(
                _pretty(closest["request"]).splitlines(keepends=True),
                mine.splitlines(keepends=True),
                fromfile=f"recorded #{best}" + (" (played)" if best in self._played else ""),
                tofile="sent",
            )
        )
        if closest["stream"] != stream:
            diff += (
                f"\n(recorded as {'stream' if closest['stream'] else 'complete'}, sent as {kind})"
            )
        return CassetteMismatchError(
            f"{self.path}: {used}no recorded request matches this {kind} request; "
            f"the closest is #{best}:\n{diff}",
            closest=closest["request"],
            diff=diff,
        )

    @property
    def unplayed(self) -> list[int]:
        """Indexes of recorded interactions not played yet (replay mode)."""
        if self.mode == "record":
            return []
        return [i for i in range(len(self._interactions)) if i not in self._played]

    def check(self) -> None:
        """Raise :class:`~convo.errors.CassetteError` if recorded interactions were not
        played (what ``strict=True`` does on :meth:`close`)."""
        if left := self.unplayed:
            requests = "; ".join(_summary(self._interactions[i]["request"]) for i in left[:5])
            raise CassetteError(
                f"{self.path}: {len(left)} recorded interaction(s) were never played "
                f"(#{', #'.join(map(str, left))}): {requests}"
            )

    # -- the transport ----------------------------------------------------------------

    def complete(self, request: Request) -> Reply:
        if self.mode == "replay":
            return _reply(self._take(request, stream=False))
        assert self.transport is not None
        try:
            reply = self.transport.complete(request)
        except ConvoError as exc:
            self._record(_entry(self._key(request), False, error=exc))
            raise
        self._record(_entry(self._key(request), False, reply=reply))
        return reply

    async def acomplete(self, request: Request) -> Reply:
        if self.mode == "replay":
            return _reply(self._take(request, stream=False))
        assert self.transport is not None
        try:
            reply = await self.transport.acomplete(request)
        except ConvoError as exc:
            self._record(_entry(self._key(request), False, error=exc))
            raise
        self._record(_entry(self._key(request), False, reply=reply))
        return reply

    def stream(self, request: Request) -> Iterator[Chunk]:
        if self.mode == "replay":
            yield from _replay_chunks(self._take(request, stream=True))
            return
        assert self.transport is not None
        chunks: list[Chunk] = []
        it = iter(self.transport.stream(request))
        try:
            for chunk in it:
                chunks.append(chunk)
                yield chunk
        except ConvoError as exc:
            self._record(_entry(self._key(request), True, chunks=chunks, error=exc))
            raise
        finally:
            close = getattr(it, "close", None)
            if close is not None:  # a stream closed early releases its connection now
                close()
        # A stream closed early is not recorded: its end was never seen.
        self._record(_entry(self._key(request), True, chunks=chunks))

    async def astream(self, request: Request) -> AsyncIterator[Chunk]:
        if self.mode == "replay":
            for chunk in _replay_chunks(self._take(request, stream=True)):
                yield chunk
            return
        assert self.transport is not None
        chunks: list[Chunk] = []
        it = aiter(self.transport.astream(request))
        try:
            async for chunk in it:
                chunks.append(chunk)
                yield chunk
        except ConvoError as exc:
            self._record(_entry(self._key(request), True, chunks=chunks, error=exc))
            raise
        finally:
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                await aclose()
        self._record(_entry(self._key(request), True, chunks=chunks))

    def close(self) -> None:
        """Close the wrapped transport; in strict mode, fail if anything was not played."""
        if self.transport is not None:
            self.transport.close()
        if self.strict:
            self.check()

    async def aclose(self) -> None:
        if self.transport is not None:
            await self.transport.aclose()
        if self.strict:
            self.check()

    def __repr__(self) -> str:
        return (
            f"<Cassette {str(self.path)!r} mode={self.mode!r} {len(self._interactions)} recorded>"
        )


def _entry(
    key: Any,
    stream: bool,
    *,
    reply: Reply | None = None,
    chunks: list[Chunk] | None = None,
    error: ConvoError | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": key, "stream": stream}
    if reply is not None:
        entry["reply"] = reply.model_dump(mode="json", exclude_none=True, exclude=_TURN_FIELDS)
    if chunks is not None:
        entry["chunks"] = json.loads(json.dumps(chunks, default=str))
    if error is not None:
        entry["error"] = _dump_error(error)
    return entry


def _dump_error(exc: ConvoError) -> dict[str, Any]:
    attrs = {k: v for k, v in vars(exc).items() if k != "body" and _is_json(v)}
    return {"type": type(exc).__name__, "message": str(exc), "attrs": attrs}


def _load_error(data: dict[str, Any]) -> ConvoError:
    # Only classes of convo's own error tree are ever built from a file.
    cls = getattr(errors, str(data.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, ConvoError)):
        raise CassetteError(f"a cassette names an unknown error type {data.get('type')!r}")
    exc = cls.__new__(cls)
    Exception.__init__(exc, data.get("message", ""))
    vars(exc).update(data.get("attrs", {}))
    return exc


def _reply(entry: dict[str, Any]) -> Reply:
    if "error" in entry:
        raise _load_error(entry["error"])
    return Reply.model_validate(entry["reply"])


def _replay_chunks(entry: dict[str, Any]) -> Iterator[Chunk]:
    yield from entry.get("chunks", [])
    if "error" in entry:
        raise _load_error(entry["error"])


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _summary(body: Any) -> str:
    messages = body.get("messages") or [{}]
    last = messages[-1].get("content")
    return f"{body.get('model')!r} ... {str(last)[:40]!r}"
