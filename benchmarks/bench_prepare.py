"""How long preparing a request takes as the history grows: fit + the wire body.

The histories are pre-counted, as a loaded conversation is (each message's count is
cached on it), and every round adds a new, uncounted user message, as a real turn
does. The floor is one raw ``encode_ordinary`` pass over the text of only the messages
that are sent: preparing should cost about that, or less, whatever the history length.

Run: ``python benchmarks/bench_prepare.py [--rounds N] [--budget TOKENS]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator

from convo.budget import fit
from convo.messages import FunctionCall, Message, ToolCall
from convo.tokens import counter_for
from convo.wire import build_body

MODEL = "gpt-4o"
SIZES = (100, 1_000, 10_000, 100_000)


def _history(n: int) -> list[Message]:
    """``n`` messages of varied turns: plain ones and tool rounds with two calls."""
    out: list[Message] = []
    i = 0
    while len(out) < n:
        out.append(Message.user(f"Question {i}: how does part {i % 97} of the system work?"))
        if i % 3 == 0:
            calls = [
                ToolCall(
                    id=f"c{i}_{j}",
                    function=FunctionCall(name="search", arguments=f'{{"q": "{i} {j}"}}'),
                )
                for j in range(2)
            ]
            out.append(Message.assistant(tool_calls=calls))
            out.extend(
                Message.tool(f"Result {c.id}: " + "data " * 20, tool_call_id=c.id) for c in calls
            )
        out.append(Message.assistant(f"Answer {i}: " + "It works like this. " * (5 + i % 20)))
        i += 1
    return out[:n]


def _median(
    fn: Callable[[], object], rounds: int, setup: Callable[[], None] = lambda: None
) -> float:
    times = []
    for _ in range(rounds):
        setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--budget", type=int, default=8_000)
    args = parser.parse_args()
    counter = counter_for(MODEL)
    encoding = counter.encoding
    pinned = (Message.system("You are a helpful assistant. Answer briefly and precisely."),)
    params = {"temperature": 0.2}

    print(f"model {MODEL}, budget {args.budget} tokens, median of {args.rounds} rounds")
    header = (
        f"{'history':>9} {'sent':>6} {'fit µs':>9} {'fit+body µs':>12} "
        f"{'encode µs':>10} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for size in SIZES:
        history = _history(size)
        for m in history:  # pre-counted, as a loaded conversation is
            counter.message(m)
        pending: list[Message] = []
        numbers = iter(range(10**9))

        def new_turn(pending: list[Message] = pending, numbers: Iterator[int] = numbers) -> None:
            n = next(numbers)
            pending[:] = [Message.user(f"New question {n}: and what about the rest?")]

        def prepare(pending: list[Message] = pending, history: list[Message] = history) -> None:
            fitted = fit(pinned, history, pending, counter=counter, budget=args.budget)
            # As a turn builds it (Request.shared): copied only for whoever edits it.
            build_body(MODEL, fitted.messages, params, fresh=False)

        def fit_only(pending: list[Message] = pending, history: list[Message] = history) -> None:
            fit(pinned, history, pending, counter=counter, budget=args.budget)

        new_turn()
        sent = fit(pinned, history, pending, counter=counter, budget=args.budget).messages
        text = "\n".join(
            m.text + "".join(c.function.arguments for c in m.tool_calls or ()) for m in sent
        )
        prepare()  # the wire dicts of the kept messages are cached from here on, as in use
        t_fit = _median(fit_only, args.rounds, new_turn)
        t_prepare = _median(prepare, args.rounds, new_turn)

        def encode_once(text: str = text) -> None:
            encoding.encode_ordinary(text)

        t_encode = _median(encode_once, args.rounds)
        print(
            f"{size:>9,} {len(sent):>6} {t_fit * 1e6:>9.0f} {t_prepare * 1e6:>12.0f} "
            f"{t_encode * 1e6:>10.0f} {t_prepare / t_encode:>6.2f}"
        )
    print("\nratio = (fit + build_body) / one encode_ordinary pass over the sent text")
    tools_case(args.rounds)
    first_after_load(args.rounds)


def _tool(i: int) -> Callable[..., str]:
    def fn(city: str, days: int = 1) -> str:
        return f"{city} {days}"

    fn.__name__ = f"forecast_{i}"
    fn.__doc__ = f"Forecast number {i}: the weather in a city for some days."
    return fn


def tools_case(rounds: int) -> None:
    """``Conversation.prepare`` on a 1,000-message history with 0, 10 and 50 tools."""
    from convo import Conversation, FunctionTransport

    print("\nConversation.prepare, 1,000 messages, with tools (schemas counted once a set)")
    base = None
    for n in (0, 10, 50):
        conv = Conversation(
            "Be brief.",
            model=MODEL,
            transport=FunctionTransport(lambda r: "ok"),
            messages=_history(1_000),
            tools=[_tool(i) for i in range(n)],
        )
        conv.prepare("warm")  # counts the history once, as a loaded conversation has
        t = _median(lambda conv=conv: conv.prepare("And now?"), rounds)
        base = base or t
        print(f"  {n:>3} tools: {t * 1e6:8.0f} µs  ({t / base:.2f}x no tools)")


def first_after_load(rounds: int) -> None:
    """The first ``prepare`` after loading a 100,000-message conversation, against a warm one."""
    import tempfile
    from pathlib import Path

    from convo import Conversation, FunctionTransport, SQLStore
    from convo.store import ConversationHeader, TurnMeta

    counter = counter_for(MODEL)
    history = _history(100_000)
    for m in history:
        counter.message(m)  # stored with their counts, as turns that were sent are
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(f"sqlite:///{Path(tmp) / 'big.db'}")
        store.append_turn("big", 0, history, TurnMeta(), create=ConversationHeader(id="big"))
        transport = FunctionTransport(lambda r: "ok")
        firsts = []
        for _ in range(max(3, rounds // 7)):
            conv = Conversation.load("big", store=store, transport=transport, model=MODEL)
            start = time.perf_counter()
            conv.prepare("And now?")
            firsts.append(time.perf_counter() - start)
        warm = _median(lambda: conv.prepare("And now?"), rounds)
        store.close()
    first = statistics.median(firsts)
    print(
        f"\nfirst prepare after loading 100,000 messages: {first * 1e3:.1f} ms,"
        f" a warm one {warm * 1e3:.2f} ms: {first / warm:.1f}x (target 10x)"
    )


if __name__ == "__main__":
    main()
