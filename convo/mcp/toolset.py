"""One MCP server as a toolset: one long-lived session, its tools listed once.

The session lives on an event loop of its own, in a daemon thread (an anyio blocking
portal): the official SDK's session is bound to the loop it was opened on, and a
toolset serves the sync ``Conversation`` (which runs each async tool in a fresh loop)
and the ``AsyncConversation`` (on the caller's loop) alike. A call hops to the
session's loop and back; cancelling it (a timeout) cancels the request there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import tempfile
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import IO, Any, Self

from convo.errors import McpError, ToolDefinitionError
from convo.messages import Message
from convo.templates.library import TemplateRegistry
from convo.tools.registry import MAX_RESULT_TOKENS, Tool, ToolRegistry
from convo.tools.remote import RemoteTool

__all__ = ["McpToolset"]

log = logging.getLogger("convo.mcp")

Connect = Callable[[contextlib.AsyncExitStack[Any], IO[str]], Awaitable[tuple[Any, Any]]]

_NOT_A_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_STDERR_SHOWN = 2_000  # characters of a server's stderr quoted in an error at start


class McpToolset(ToolRegistry):
    """The tools of one MCP server, for ``tools=[...]``; see :func:`convo.mcp.stdio`.

    Use it as a context manager (``with`` or ``async with``): entering starts the
    session and lists the tools, leaving closes the session (and ends the server's
    process, for stdio). ``prefix`` is put before every tool name (``prefix_name``).
    """

    def __init__(
        self,
        connect: Connect,
        *,
        label: str,
        prefix: str | None = None,
        timeout: float | None = None,
        start_timeout: float = 30.0,
        max_result_tokens: int = MAX_RESULT_TOKENS,
    ) -> None:
        super().__init__()
        self.label = label
        self.prefix = prefix
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.max_result_tokens = max_result_tokens
        self.instructions: str | None = None
        self.templates = TemplateRegistry()
        self._connect = connect
        self._runner: _Runner | None = None
        self._state = "new"

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> Self:
        """Start the session and list the tools (and prompts) once; ``with`` calls it.

        Raises :class:`~convo.errors.McpError` if the server cannot be started, does
        not answer within ``start_timeout`` seconds, or fails its handshake.
        """
        if self._state != "new":
            raise McpError(f"the MCP toolset {self.label} was already started")
        self._state = "starting"
        runner = _Runner(self._connect, self.label)
        try:
            init, tools, prompts = runner.start(self.start_timeout)
        except BaseException:
            self._state = "closed"
            raise
        self._runner = runner
        weakref.finalize(self, runner.close)  # no orphan process if close() is forgotten
        self.instructions = getattr(init, "instructions", None)
        try:
            for listed in tools:
                self.add(self._tool(listed))
            for prompt, messages in prompts:
                self._template(prompt, messages)
        except BaseException:
            self.close()
            raise
        self._state = "open"
        return self

    def close(self) -> None:
        """Close the session (and end the server process); calls after this fail."""
        self._state = "closed"
        if self._runner is not None:
            self._runner.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)

    def __iter__(self) -> Any:
        if self._state == "new":
            raise McpError(
                f"the MCP toolset {self.label} is not started: use it as "
                "`with convo.mcp.stdio(...) as tools:` (or call .start())"
            )
        return super().__iter__()

    def schemas(self) -> tuple[dict[str, Any], ...]:
        iter(self)  # the same check: a request must not go out without the server's tools
        return super().schemas()

    def __len__(self) -> int:
        iter(self)
        return super().__len__()

    def __repr__(self) -> str:  # the label never holds headers or env values
        return f"McpToolset({self.label!r}, {self._state}, tools={list(self.names())!r})"

    # -- prompts ---------------------------------------------------------------------

    def prompt(self, name: str, /, **arguments: str) -> list[Message]:
        """The messages of the server's prompt ``name``, rendered by the server (within
        the toolset's ``timeout``, else ``start_timeout``)."""
        limit = self.timeout or self.start_timeout
        result = self._require().call(lambda s: s.get_prompt(name, arguments), limit)
        return [_message(m.role, _text(m.content)) for m in result.messages]

    async def aprompt(self, name: str, /, **arguments: str) -> list[Message]:
        """:meth:`prompt`, awaited."""
        return await asyncio.to_thread(lambda: self.prompt(name, **arguments))

    # -- tools -----------------------------------------------------------------------

    def _require(self) -> _Runner:
        if self._runner is None or self._state == "closed":
            raise McpError(f"the MCP toolset {self.label} is closed")
        return self._runner

    def _tool(self, listed: Any) -> Tool[..., Any]:
        remote = listed.name
        local = _NOT_A_NAME.sub("_", f"{self.prefix}_{remote}" if self.prefix else remote)
        if not local or len(local) > 64:
            raise ToolDefinitionError(
                f"the MCP server {self.label} has a tool whose name cannot be sent to a "
                f"model ({remote!r}); give a shorter prefix",
                tool=local,
            )
        annotations = getattr(listed, "annotations", None)
        # MCP's own hint: a tool that is neither read-only nor idempotent is treated as
        # one whose repeats need approval, as convo's idempotent=False tools are.
        idempotent = True
        if annotations is not None and annotations.read_only_hint is not True:
            idempotent = annotations.idempotent_hint is not False
        toolset = self

        async def call(**arguments: Any) -> str:
            runner = toolset._require()
            future = runner.submit(lambda s: s.call_tool(remote, arguments))
            try:
                result = await asyncio.wrap_future(future)
            except McpError:
                raise
            except Exception as exc:
                raise McpError(_failure(toolset.label, exc)) from exc
            return _result(result)

        return RemoteTool(
            call,
            name=local,
            description=listed.description or "",
            parameters=listed.input_schema or {},
            timeout=self.timeout,
            max_result_tokens=self.max_result_tokens,
            idempotent=idempotent,
        )

    def _template(self, prompt: Any, messages: list[Any] | None) -> None:
        from convo.mcp.prompts import template_source

        source = template_source(prompt, messages)
        if source is None:
            log.info("MCP prompt %r of %s has no template form", prompt.name, self.label)
            return
        name = f"{self.prefix}_{prompt.name}" if self.prefix else prompt.name
        self.templates.register(name, source)


class _Runner:
    """The session's loop thread; everything here is safe to call from any thread."""

    def __init__(self, connect: Connect, label: str) -> None:
        self._connect = connect
        self._label = label
        self._portal_cm: Any = None
        self._portal: Any = None
        self._session: Any = None
        self._stop: Any = None
        self._served: concurrent.futures.Future[Any] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.lost = False
        # The server's stderr, quoted if it fails at start (the process keeps its own handle)
        self._errlog: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115

    def start(self, timeout: float) -> tuple[Any, list[Any], list[Any]]:
        from anyio.from_thread import start_blocking_portal

        self._portal_cm = start_blocking_portal(name="convo-mcp")
        self._portal = self._portal_cm.__enter__()
        ready: concurrent.futures.Future[tuple[Any, list[Any], list[Any]]] = (
            concurrent.futures.Future()
        )
        self._served = self._portal.start_task_soon(self._serve, ready)
        try:
            return ready.result(timeout)
        except concurrent.futures.TimeoutError:
            self.close()  # first: the stderr is complete once the process has ended
            raise McpError(
                f"the MCP server {self._label} did not answer within {timeout:g} seconds "
                f"at start{self._stderr()}"
            ) from None
        except BaseException as exc:
            self.close()
            if isinstance(exc, McpError):
                raise
            raise McpError(
                f"the MCP server {self._label} could not be started: "
                f"{_describe(exc)}{self._stderr()}"
            ) from exc
        finally:
            self._errlog.close()

    async def _serve(self, ready: concurrent.futures.Future[Any]) -> None:
        import anyio
        from mcp import ClientSession

        self._stop = anyio.Event()
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._connect(stack, self._errlog)
                session = await stack.enter_async_context(ClientSession(read, write))
                init = await session.initialize()
                tools = [t async for t in _pages(session.list_tools, "tools")]
                prompts = []
                if getattr(init.capabilities, "prompts", None) is not None:
                    async for p in _pages(session.list_prompts, "prompts"):
                        prompts.append((p, await _placeholder_prompt(session, p)))
                self._session = session
                ready.set_result((init, tools, prompts))
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(_unwrap(exc))
            if not isinstance(exc, Exception):
                raise
        finally:
            self._session = None

    def submit(self, make: Callable[[Any], Awaitable[Any]]) -> concurrent.futures.Future[Any]:
        """Run ``make(session)`` on the session's loop; cancelling the future cancels it."""
        with self._lock:
            if self._closed or self._session is None:
                raise McpError(f"the MCP server {self._label} is not connected")
            if self.lost:
                raise McpError(
                    f"the MCP server {self._label} is no longer connected (its connection "
                    "closed during an earlier call)"
                )
            return self._portal.start_task_soon(self._guarded, make, self._session)  # type: ignore[no-any-return]

    async def _guarded(self, make: Callable[[Any], Awaitable[Any]], session: Any) -> Any:
        from mcp.shared.exceptions import MCPError

        try:
            return await make(session)
        except MCPError as exc:
            if "closed" in str(exc).lower():
                self.lost = True
            raise McpError(_failure(self._label, exc)) from exc

    def call(self, make: Callable[[Any], Awaitable[Any]], timeout: float) -> Any:
        future = self.submit(make)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise McpError(
                f"the MCP server {self._label} did not answer within {timeout:g} seconds"
            ) from None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._portal is not None:
            with contextlib.suppress(RuntimeError):
                if self._stop is not None:
                    self._portal.call(self._stop.set)
            if self._served is not None:
                # A session that is up ends at once; one still starting (or a server
                # that does not let go) is cancelled, which ends the process too.
                with contextlib.suppress(BaseException):
                    self._served.result(5 if self._session is not None else 0)
                self._served.cancel()
                with contextlib.suppress(BaseException):
                    self._served.result(10)
            with contextlib.suppress(BaseException):
                self._portal_cm.__exit__(None, None, None)

    def _stderr(self) -> str:
        try:
            self._errlog.seek(0)
            text = self._errlog.read().strip()
        except (OSError, ValueError):
            return ""
        if not text:
            return ""
        return f"; its stderr ends with:\n{text[-_STDERR_SHOWN:]}"


def _failure(label: str, exc: BaseException) -> str:
    text = str(exc)
    if "closed" in text.lower():
        return (
            f"the MCP server {label} closed the connection during the call "
            "(it may have crashed); the call may or may not have taken effect"
        )
    return f"the MCP server {label} failed the call: {_describe(exc)}"


async def _pages(method: Callable[..., Awaitable[Any]], field: str) -> AsyncIterator[Any]:
    from mcp import types

    cursor: str | None = None
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await method(params=params)
        for item in getattr(page, field):
            yield item
        cursor = page.next_cursor
        if not cursor:
            return


async def _placeholder_prompt(session: Any, prompt: Any) -> list[Any] | None:
    # The prompt fetched once with each argument standing for itself: the messages
    # become a convo template. A server that checks or transforms its arguments gives
    # no template (use toolset.prompt(...) for the server's own rendering).
    arguments = {a.name: "{{ " + a.name + " }}" for a in prompt.arguments or ()}
    try:
        result = await session.get_prompt(prompt.name, arguments)
    except Exception:
        return None
    return list(result.messages)


def _result(result: Any) -> str:
    text = "\n".join(_text(block) for block in result.content or ())
    if not text and result.structured_content is not None:
        import orjson

        text = orjson.dumps(result.structured_content).decode()
    if result.is_error:
        return text if text.lower().startswith("error") else f"Error: {text}"
    return text


def _text(block: Any) -> str:
    if getattr(block, "type", None) == "text":
        return str(block.text)
    if hasattr(block, "model_dump_json"):
        return str(block.model_dump_json(exclude_none=True))
    return str(block)


def _message(role: str, text: str) -> Message:
    return Message.assistant(text) if role == "assistant" else Message.user(text)


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> str:
    exc = _unwrap(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
