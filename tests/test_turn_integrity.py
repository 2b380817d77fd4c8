"""Turn integrity: overlapping, abandoned, cancelled and forked turns never corrupt a
conversation (issue 12). Each test names the behaviour it pins."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import convo
from convo import (
    AsyncConversation,
    Choice,
    Conversation,
    FunctionTransport,
    Message,
    ModelCall,
    Reply,
    ScriptedTransport,
    SQLStore,
    Summarize,
    TextDelta,
    Transport,
    Usage,
    VersionConflictError,
)
from convo.errors import (
    ContentFilterError,
    ConvoError,
    MessageError,
    ParameterError,
    ProtocolError,
)
from convo.request import Request
from convo.store import AsyncSQLStore
from convo.transports.openai import OpenAITransport
from convo.transports.testing import tool_calls
from tests.support import ChatServer
from tests.support.chatserver import Events


def _text(text: str, *, usage: int | None = None, reason: str = "stop") -> Reply:
    u = Usage(prompt_tokens=usage, completion_tokens=0, total_tokens=usage) if usage else None
    return Reply(choices=(Choice(message=Message.assistant(text), finish_reason=reason),), usage=u)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as s:
        yield s


# -- 1. overlapping turns --------------------------------------------------------------


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "sqlite"])
async def test_two_async_sends_at_once_one_commits_the_other_conflicts(
    stored: bool, tmp_path: Path
) -> None:
    both_in_flight = asyncio.Event()
    arrived = 0

    async def answer(request: Request) -> str:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_in_flight.set()
        await both_in_flight.wait()
        return f"re: {request.messages[-1].text}"

    store = AsyncSQLStore(f"sqlite:///{tmp_path / 'c.db'}") if stored else None
    conv = AsyncConversation(model="m", transport=FunctionTransport(answer), store=store)
    results = await asyncio.gather(conv.send("one"), conv.send("two"), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], VersionConflictError)
    texts = [m.text for m in conv.history]
    assert texts in (["one", "re: one"], ["two", "re: two"])  # one whole turn, never both
    if store is not None:
        assert [m.text for m in (await store.load(conv.id)).messages] == texts
        store.sync.close()


def test_two_threads_send_at_once_one_commits_the_other_conflicts() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def answer(request: Request) -> str:
        barrier.wait()  # both requests are in flight before either commits
        return f"re: {request.messages[-1].text}"

    conv = Conversation(model="m", transport=FunctionTransport(answer))
    outcomes: list[Any] = []

    def run(text: str) -> None:
        try:
            outcomes.append(conv.send(text))
        except Exception as exc:  # collected, asserted below
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(isinstance(o, VersionConflictError) for o in outcomes) == 1
    assert len(conv.history) == 2


def test_a_stream_resumed_after_a_later_turn_never_commits_on_top_of_it() -> None:
    conv = Conversation(model="m", transport=ScriptedTransport("first answer", "later answer"))
    stream = conv.stream("first")
    pieces = iter(stream)
    next(pieces)  # the stream is under way, then set aside
    conv.send("later")
    with pytest.raises(VersionConflictError):
        list(pieces)
    assert [m.text for m in conv.history] == ["later", "later answer"]


async def test_an_async_stream_resumed_after_a_later_turn_conflicts() -> None:
    conv = AsyncConversation(model="m", transport=ScriptedTransport("first answer", "later"))
    stream = conv.stream("first")
    pieces = aiter(stream)
    await anext(pieces)
    await conv.send("later")
    with pytest.raises(VersionConflictError):
        async for _ in pieces:
            pass
    assert [m.text for m in conv.history] == ["later", "later"]


def test_a_turn_reads_the_history_it_began_with() -> None:
    # A tool round's second request must not see a turn committed meanwhile.
    seen: list[list[str]] = []
    conv: Conversation

    def lookup(city: str) -> str:
        """Look up a city."""
        return "sunny"

    script = iter([tool_calls(("lookup", {"city": "Oslo"})), "done"])

    def answer(request: Request) -> Any:
        seen.append([m.text for m in request.messages])
        return next(script)

    conv = Conversation(model="m", transport=FunctionTransport(answer), tools=[lookup])
    stream = iter(conv.stream("weather?"))
    conv._history.append(Message.user("sneaked in"))  # appended while the turn runs
    with pytest.raises(VersionConflictError):
        list(stream)
    assert all("sneaked in" not in texts for texts in seen)


def test_a_turns_context_and_commit_plan_cannot_be_changed() -> None:
    # docs/architecture.md: the turn reads an immutable snapshot and ends with a value.
    from convo.effects import Commit

    conv = Conversation(model="m", transport=FunctionTransport(lambda r: "hi"), metadata={"k": 1})
    ctx = conv._context({}, stream=False)
    with pytest.raises(AttributeError):
        ctx.model = "other"  # type: ignore[misc]
    assert ctx._replace(model="other").model == "other" and ctx.model == "m"
    flow = convo.turn.run_turn(ctx, [Message.user("hello")])
    effect = next(flow)
    while not isinstance(effect, Commit):
        effect = flow.send(conv.transport.complete(effect.request))
    plan = effect.plan
    with pytest.raises(AttributeError):
        plan.messages = ()  # type: ignore[misc]
    assert [m.text for m in plan.messages] == ["hello", "hi"]
    # The metadata a store would write is a validated TurnMeta, made on demand.
    assert plan.meta.model == "m" and plan.meta.finish_reason == "stop"
    assert list(conv.history) == []  # a plan is not applied until the driver commits it


# -- 2. breaking out of a stream closes it -------------------------------------------


def test_break_closes_the_http_response_at_once_while_the_stream_is_referenced(
    server: ChatServer,
) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    server.script(Events([chunk, chunk, chunk], stall_after=1))
    with OpenAITransport(server.url, api_key="sk-test") as transport:
        conv = Conversation(model="m", transport=transport)
        s = conv.stream("Hi")
        for _piece in s:
            break
        # s is still referenced here: the response must be closed all the same.
        assert server.wait_idle(timeout=5), "the stalled response was not closed"
        assert conv.history == ()
        # The abandoned stream can never commit later.
        assert list(s) == [] and conv.history == ()


def test_a_finished_stream_returns_its_connection_to_the_pool(server: ChatServer) -> None:
    with OpenAITransport(server.url, api_key="sk-test") as transport:
        conv = Conversation(model="m", transport=transport)
        assert "".join(conv.stream("one")) == "echo: one"
        assert "".join(conv.stream("two")) == "echo: two"
        conv.send("three")
    assert server.total_connections == 1  # the pool reused one connection throughout


async def test_async_break_then_aclose_closes_the_response(server: ChatServer) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    server.script(Events([chunk, chunk, chunk], stall_after=1))
    async with OpenAITransport(server.url, api_key="sk-test") as transport:
        conv = AsyncConversation(model="m", transport=transport)
        async with conv.stream("Hi") as s:
            async for _piece in s:
                break
        assert await asyncio.to_thread(server.wait_idle, 5)
        assert conv.history == ()


# -- 3. store and memory never diverge ------------------------------------------------


class _SlowStore(SQLStore):
    """A sync store whose writes take a while, to cancel a task in the middle of one."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.writing = threading.Event()
        self.header_updates = 0

    def append_turn(self, *args: Any, **kwargs: Any) -> int:
        self.writing.set()
        time.sleep(0.3)
        return super().append_turn(*args, **kwargs)

    def update_header(self, *args: Any, **kwargs: Any) -> Any:
        self.header_updates += 1
        return super().update_header(*args, **kwargs)


async def test_cancelled_during_a_sync_store_commit_memory_follows_the_store(
    tmp_path: Path,
) -> None:
    store = _SlowStore(f"sqlite:///{tmp_path / 'c.db'}")
    conv = AsyncConversation(model="m", transport=ScriptedTransport("a1", "a2"), store=store)
    await conv.send("q1")
    store.writing.clear()
    task = asyncio.ensure_future(conv.send("q2"))
    await asyncio.to_thread(store.writing.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = [m.text for m in store.load(conv.id).messages]
    assert [m.text for m in conv.history] == stored == ["q1", "a1", "q2", "a2"]
    assert conv.version == store.load(conv.id).version
    store.close()


def test_the_summary_is_written_with_the_turn_in_one_transaction(tmp_path: Path) -> None:
    store = _SlowStore(f"sqlite:///{tmp_path / 'c.db'}")
    history = []
    for i in range(40):
        history += [Message.user(f"fact {i}: " + "blah " * 40), Message.assistant("ok " * 20)]
    conv = Conversation(
        "sys",
        model="gpt-4",
        messages=history,
        transport=ScriptedTransport("THE SUMMARY", "answer"),
        store=store,
        context_window=3000,
        max_tokens=200,
        strategy=Summarize(),
    )
    conv.send("what did I say?")
    assert store.header_updates == 0  # no second write that could fail after the turn
    loaded = Conversation.load(conv.id, store=store, transport=ScriptedTransport("x"))
    assert loaded._summary is not None and "THE SUMMARY" in loaded._summary.message.text
    assert "convo.summary" not in loaded.metadata  # convo's own key, not the user's
    store.close()


def test_update_header_is_part_of_the_store_protocol() -> None:
    from convo.store.base import Store

    assert "update_header" in Store.__dict__
    assert "metadata" in inspect.signature(Store.append_turn).parameters


# -- 4. cancellation stays cancellation ------------------------------------------------


class _SyncOnlyStream(Transport):
    def __init__(self) -> None:
        self.closed = threading.Event()
        self.reading = threading.Event()

    def complete(self, request: Request) -> Reply:
        raise AssertionError("not used")

    def stream(self, request: Request) -> Iterator[dict[str, Any]]:
        try:
            yield {"choices": [{"index": 0, "delta": {"content": "a"}}]}
            self.reading.set()
            time.sleep(0.5)  # a slow read, under way in the worker thread
            yield {"choices": [{"index": 0, "delta": {"content": "b"}}]}
            time.sleep(5)
            yield {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        finally:
            self.closed.set()


async def test_cancelling_an_async_stream_over_a_sync_transport_is_cancellation() -> None:
    transport = _SyncOnlyStream()
    conv = AsyncConversation(model="m", transport=transport)

    async def consume() -> None:
        async for _ in conv.stream("Hi"):
            pass

    task = asyncio.ensure_future(consume())
    await asyncio.to_thread(transport.reading.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(transport.closed.wait, 5), "the sync stream was not closed"
    assert conv.history == ()


# -- 5. forks keep everything ---------------------------------------------------------


def _approve_never(call: Any) -> bool:
    return False


def _on_result(call: Any, answer: Any) -> None:
    return None


def _lookup(city: str) -> str:
    """Look up a city."""
    return f"{city}: sunny"


def _rich_settings(**extra: Any) -> dict[str, Any]:
    return dict(
        model="gpt-4o-mini",
        tools=[_lookup],
        approve=_approve_never,
        on_tool_result=_on_result,
        tool_errors="raise",
        tool_timeout=3.5,
        max_tool_rounds=3,
        on_max_tool_rounds="answer",
        strategy=Summarize(max_tokens=100),
        context_window=9000,
        reserve_tokens=500,
        output_retries=1,
        output_mode="json_object",
        encoding="cl100k_base",
        variables={"x": 1},
        title="t",
        metadata={"team": "a"},
        temperature=0.2,
        **extra,
    )


def _settings_of(conv: convo.Conversation | convo.AsyncConversation) -> dict[str, Any]:
    params = inspect.signature(convo.Conversation.__init__).parameters
    names = [p for p in params if p not in ("self", "messages", "id", "params")]
    values = {n: getattr(conv, n) for n in names if n not in ("tools", "system")}
    values["tools"] = (conv.tools.names(), conv.external_tools)
    values["system"] = conv.system
    values["params"] = conv.params
    return values


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "sqlite"])
def test_a_fork_keeps_every_setting_of_its_parent(stored: bool, tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'c.db'}") if stored else None
    transport = ScriptedTransport("a1", "a2")
    conv = Conversation("sys", transport=transport, store=store, **_rich_settings())
    conv.send("q1")
    for at in range(len(conv.history) + 1):
        child = conv.fork(at=at)
        assert _settings_of(child) == _settings_of(conv), at
        assert child.transport is conv.transport
    if store is not None:
        store.close()


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "sqlite"])
def test_a_fork_never_drops_the_approval_hook(stored: bool, tmp_path: Path) -> None:
    ran: list[str] = []

    def pay(amount: int) -> str:
        """Pay an amount."""
        ran.append("paid")
        return "paid"

    store = SQLStore(f"sqlite:///{tmp_path / 'c.db'}") if stored else None
    fake = ScriptedTransport("hello", tool_calls(("pay", {"amount": 5})), "ok")
    conv = Conversation(
        model="m", transport=fake, tools=[pay], approve=lambda c: False, store=store
    )
    conv.send("hi")
    child = conv.fork()
    child.send("pay 5")
    assert ran == []  # the user's refusal still holds in the fork
    assert "refused" in child.history[-2].text
    if store is not None:
        store.close()


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "sqlite"])
def test_a_fork_inside_a_tool_round_is_refused_naming_the_index(
    stored: bool, tmp_path: Path
) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'c.db'}") if stored else None
    fake = ScriptedTransport(tool_calls(("_lookup", {"city": "Oslo"})), "sunny")
    conv = Conversation(model="m", transport=fake, tools=[_lookup], store=store)
    conv.send("weather?")
    assert [m.role for m in conv.history] == ["user", "assistant", "tool", "assistant"]
    with pytest.raises(MessageError) as info:
        conv.fork(at=2)
    assert info.value.index == 2 and "tool round" in str(info.value)
    for at in (0, 1, 3, 4):  # every other point works
        assert len(conv.fork(at=at).history) == at
    if store is not None:
        store.close()


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "sqlite"])
def test_a_fork_before_the_summary_does_not_inherit_it(stored: bool, tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'c.db'}") if stored else None
    history = []
    for i in range(40):
        history += [Message.user(f"fact {i}: " + "blah " * 40), Message.assistant("ok " * 20)]
    conv = Conversation(
        "sys",
        model="gpt-4",
        messages=history,
        transport=ScriptedTransport("THE SUMMARY", "answer", "x", "y"),
        store=store,
        context_window=3000,
        max_tokens=200,
        strategy=Summarize(),
    )
    conv.send("what did I say?")
    summary = conv._summary
    assert summary is not None
    early = conv.fork(at=2)
    assert early._summary is None
    late = conv.fork()
    assert late._summary == summary
    if store is not None:
        assert Conversation.load(early.id, store=store)._summary is None
        assert Conversation.load(late.id, store=store)._summary == summary
        store.close()


async def test_async_fork_keeps_every_setting(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'c.db'}")
    conv = AsyncConversation(
        "sys", transport=ScriptedTransport("a1"), store=store, **_rich_settings()
    )
    await conv.send("q1")
    child = await conv.fork(at=0)
    assert _settings_of(child) == _settings_of(conv)
    store.close()


# -- 6. usage adds up ------------------------------------------------------------------


def _with_usage(reply: Reply, total: int) -> Reply:
    return reply.model_copy(
        update={"usage": Usage(prompt_tokens=total, completion_tokens=0, total_tokens=total)}
    )


@pytest.mark.parametrize("driver", ["sync", "async"])
async def test_a_turns_usage_is_the_sum_of_its_calls(driver: str, tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'c.db'}")
    fake = ScriptedTransport(
        _with_usage(tool_calls(("_lookup", {"city": "Oslo"})), 10), _text("sunny", usage=20)
    )
    if driver == "sync":
        reply = Conversation(model="m", transport=fake, tools=[_lookup], store=store).send("w?")
    else:
        aconv = AsyncConversation(model="m", transport=fake, tools=[_lookup], store=store)
        reply = await aconv.send("w?")
    assert reply.usage is not None and reply.usage.total_tokens == 20  # the last call's
    assert reply.turn_usage is not None and reply.turn_usage.total_tokens == 30
    (cid,) = [c.id for c in store.list()]
    assert store.turns(cid)[0].usage.total_tokens == 30  # type: ignore[union-attr]
    store.close()


# -- 7. streaming shows what is committed ---------------------------------------------


def _two_choices() -> Reply:
    return Reply(
        choices=(
            Choice(index=0, message=Message.assistant("zero"), finish_reason="stop"),
            Choice(index=1, message=Message.assistant("one"), finish_reason="stop"),
        )
    )


def test_streamed_deltas_are_the_chosen_choices() -> None:
    conv = Conversation(model="m", transport=ScriptedTransport(_two_choices()))
    s = conv.stream("x", n=2, choose=1)
    assert "".join(s) == "one" == conv.history[-1].text


def test_a_callable_choose_on_a_stream_of_several_choices_is_refused_before_any_request() -> None:
    fake = ScriptedTransport(_two_choices())
    conv = Conversation(model="m", transport=fake)
    with pytest.raises(ParameterError):
        list(conv.stream("x", n=2, choose=lambda r: 1))
    assert fake.requests == []


def test_an_out_of_range_choose_is_refused_before_any_request() -> None:
    fake = ScriptedTransport("x")
    conv = Conversation(model="m", transport=fake)
    with pytest.raises(ParameterError):
        conv.send("x", n=2, choose=2)
    assert fake.requests == []


def test_events_say_where_each_model_call_starts_and_why() -> None:
    class City(BaseModel):
        name: str

    fake = ScriptedTransport(
        tool_calls(("_lookup", {"city": "Oslo"})), "not json", '{"name": "Oslo"}'
    )
    conv = Conversation(model="m", transport=fake, tools=[_lookup])
    events = list(conv.stream("x", response_format=City).events())
    reasons = [e.reason for e in events if isinstance(e, ModelCall)]
    assert reasons == ["turn", "tool_round", "output_retry"]
    assert isinstance(events[-1], convo.Finished)


# -- 8. structured output in tools mode -----------------------------------------------


class _Answer(BaseModel):
    city: str


def test_tools_mode_runs_the_users_tools_and_ends_only_on_the_output_tool() -> None:
    fake = ScriptedTransport(
        tool_calls(("_lookup", {"city": "Oslo"})), tool_calls(("Answer", {"city": "Oslo"}))
    )
    conv = Conversation(model="m", transport=fake, tools=[_lookup], output_mode="tools")
    reply = conv.send("where?", response_format=_Answer)
    assert reply.parsed == _Answer(city="Oslo")
    assert [m.role for m in conv.history] == ["user", "assistant", "tool", "assistant"]
    assert conv.history[2].text == "Oslo: sunny"


def test_the_kept_history_never_starts_at_a_structured_output_feedback() -> None:
    fake = ScriptedTransport("not json " * 100, '{"city": "Oslo"}')
    conv = Conversation(model="gpt-4o", transport=fake)
    conv.send("where? " + "pad " * 300, response_format=_Answer)
    assert conv.history[2].role == "user"  # the feedback message
    # Whatever the window, the kept history never starts at the feedback message.
    starts = set()
    for window in range(100, 1200, 10):
        conv.context_window = window
        try:
            req = conv.prepare("next", max_tokens=20)
        except convo.BudgetError:
            continue
        kept = [m for m in req.messages if m.role != "system"][:-1]
        if kept:
            starts.add(kept[0].text)
            assert kept[0].name != "convo_feedback", window
    assert starts and all(text.startswith("where?") for text in starts)


def test_a_content_filtered_reply_is_not_valid_output() -> None:
    conv = Conversation(
        model="m", transport=ScriptedTransport(_text('{"city": "Oslo"}', reason="content_filter"))
    )
    with pytest.raises(ContentFilterError):
        conv.send("where?", response_format=_Answer)
    assert conv.history == ()


# -- 9. roles are kept ----------------------------------------------------------------


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "sqlite"])
def test_a_leading_developer_message_stays_developer(stored: bool, tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'c.db'}") if stored else None
    fake = ScriptedTransport("hi", "again")
    first = {"role": "developer", "content": "Be brief.", "name": "ops"}
    conv = Conversation(model="m", transport=fake, messages=[first], store=store)
    conv.send("hello")
    assert fake.requests[0].body["messages"][0] == first
    if store is not None:
        loaded = Conversation.load(conv.id, store=store, transport=fake)
        loaded.send("more")
        assert fake.requests[1].body["messages"][0] == first
        store.close()


# -- 10. every error is a convo error -------------------------------------------------


@pytest.mark.parametrize(
    "chunks",
    [
        [{"choices": [{"index": 0, "delta": "not a dict"}]}],
        [{"choices": "nope"}],
        [
            {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": None, "completion_tokens": None}},
        ],
    ],
    ids=["delta", "choices", "null-usage"],
)
def test_malformed_chunks_raise_convo_errors(chunks: list[dict[str, Any]]) -> None:
    conv = Conversation(model="m", transport=ScriptedTransport(chunks))
    with pytest.raises(ConvoError) as info:
        list(conv.stream("x"))
    assert isinstance(info.value, ProtocolError | ConvoError)
    assert conv.history == ()


# -- 11. one store flavour check ------------------------------------------------------


def _passthrough(fn: Any) -> Any:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await fn(*args, **kwargs)

    return wrapper


class _DecoratedAsyncStore(AsyncSQLStore):
    append_turn = _passthrough(AsyncSQLStore.append_turn)  # type: ignore[assignment]


async def test_a_decorated_async_store_is_awaited(tmp_path: Path) -> None:
    store = _DecoratedAsyncStore(f"sqlite:///{tmp_path / 'c.db'}")
    conv = AsyncConversation(model="m", transport=ScriptedTransport("a"), store=store)
    await conv.send("q")
    assert [m.text for m in (await store.load(conv.id)).messages] == ["q", "a"]
    store.sync.close()


def test_a_sync_conversation_refuses_an_async_store(tmp_path: Path) -> None:
    store = AsyncSQLStore(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(ParameterError, match="async store"):
        Conversation(model="m", store=store, transport=ScriptedTransport())
    store.sync.close()


async def test_async_fork_and_load_do_not_run_a_sync_store_on_the_loop(tmp_path: Path) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    class Spy(SQLStore):
        def load(self, *a: Any, **k: Any) -> Any:
            threads.append(threading.get_ident())
            return super().load(*a, **k)

        def fork(self, *a: Any, **k: Any) -> Any:
            threads.append(threading.get_ident())
            return super().fork(*a, **k)

    store = Spy(f"sqlite:///{tmp_path / 'c.db'}")
    conv = AsyncConversation(model="m", transport=ScriptedTransport("a"), store=store)
    await conv.send("q")
    await conv.fork(at=0)
    await AsyncConversation.load(conv.id, store=store)
    assert threads and loop_thread not in threads
    store.close()


# -- 12. ownership ---------------------------------------------------------------------


class _Closable(ScriptedTransport):
    closed = False

    def close(self) -> None:
        self.closed = True


def test_close_leaves_a_given_transport_open() -> None:
    transport = _Closable("a")
    with Conversation(model="m", transport=transport) as conv:
        conv.send("q")
    assert transport.closed is False


async def test_aclose_leaves_a_given_transport_open() -> None:
    transport = _Closable("a")
    async with AsyncConversation(model="m", transport=transport) as conv:
        await conv.send("q")
    assert transport.closed is False


# -- the async twins of the pure decisions ---------------------------------------------


async def test_async_fork_inside_a_tool_round_is_refused() -> None:
    fake = ScriptedTransport(tool_calls(("_lookup", {"city": "Oslo"})), "sunny")
    conv = AsyncConversation(model="m", transport=fake, tools=[_lookup])
    await conv.send("weather?")
    with pytest.raises(MessageError) as info:
        await conv.fork(at=2)
    assert info.value.index == 2


async def test_async_streamed_deltas_are_the_chosen_choices_and_events_say_why() -> None:
    conv = AsyncConversation(model="m", transport=ScriptedTransport(_two_choices()))
    s = conv.stream("x", n=2, choose=1)
    events = [e async for e in s.events()]
    assert [e.reason for e in events if isinstance(e, ModelCall)] == ["turn"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one"
    assert s.reply is not None and s.reply.text == "one" == conv.history[-1].text


async def test_async_developer_role_and_content_filter() -> None:
    fake = ScriptedTransport("hi", _text('{"city": "Oslo"}', reason="content_filter"))
    first = {"role": "developer", "content": "Be brief."}
    conv = AsyncConversation(model="m", transport=fake, messages=[first])
    await conv.send("hello")
    assert fake.requests[0].body["messages"][0] == first
    with pytest.raises(ContentFilterError):
        await conv.send("where?", response_format=_Answer)
    assert len(conv.history) == 2


async def test_async_malformed_chunks_and_out_of_range_choose() -> None:
    conv = AsyncConversation(model="m", transport=ScriptedTransport([{"choices": "nope"}]))
    with pytest.raises(ProtocolError):
        async for _ in conv.stream("x"):
            pass
    fake = ScriptedTransport("x")
    conv = AsyncConversation(model="m", transport=fake)
    with pytest.raises(ParameterError):
        await conv.send("x", n=2, choose=5)
    assert fake.requests == [] and conv.history == ()


# -- a history no request could carry is refused ----------------------------------------


def test_a_given_history_with_an_orphan_or_an_unanswered_call_is_refused() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    orphan = [
        {"role": "tool", "tool_call_id": "c9", "content": "x"},
        {"role": "user", "content": "hi"},
    ]
    with pytest.raises(MessageError) as info:
        Conversation(model="m", messages=orphan, transport=ScriptedTransport())
    assert info.value.index == 0
    unanswered = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "user", "content": "again"},
    ]
    with pytest.raises(MessageError) as info:
        Conversation(model="m", messages=unanswered, transport=ScriptedTransport())
    assert info.value.index == 1
    answered = [*unanswered[:2], {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    assert (
        len(Conversation(model="m", messages=answered, transport=ScriptedTransport()).history) == 3
    )


def test_the_refused_index_counts_a_leading_system_message() -> None:
    given = [
        {"role": "system", "content": "sys"},
        {"role": "tool", "tool_call_id": "c9", "content": "x"},
    ]
    with pytest.raises(MessageError) as info:
        Conversation(model="m", messages=given, transport=ScriptedTransport())
    assert info.value.index == 1
