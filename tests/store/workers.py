"""Programs the store tests run in other processes (and, for threads, import).

python workers.py write URL CID WORKER TURNS     append TURNS turns, retrying conflicts
python workers.py crash URL CID POINT            append tool turns forever, pausing at POINT
python workers.py migrate URL START              at time START, open the store (migrating)
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sqlalchemy import event

from convo.errors import ConversationNotFoundError, VersionConflictError
from convo.messages import Message
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore

if __name__ == "__main__":  # run as a script: make `tests.store.helpers` importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.store.helpers import tool_turn


def write(store: SQLStore, cid: str, worker: int, turns: int) -> int:
    """Append ``turns`` two-message turns, reloading and retrying on conflicts.

    Returns how many conflicts it met. The first writer creates the conversation.
    """
    conflicts = 0
    for j in range(turns):
        batch = [Message.user(f"w{worker}-t{j}"), Message.assistant(f"w{worker}-t{j}-reply")]
        while True:
            try:
                version = store.load(cid, tail=1).version
            except ConversationNotFoundError:
                version = 0
            create = ConversationHeader(id=cid) if version == 0 else None
            try:
                store.append_turn(cid, version, batch, TurnMeta(), create=create)
                break
            except VersionConflictError:
                conflicts += 1
    return conflicts


def _pause_at(store: SQLStore, point: str) -> None:
    """Announce on stdout, then sleep, when the turn's transaction reaches ``point``."""

    def pause() -> None:
        print("paused", flush=True)
        time.sleep(0.2)

    # A turn's messages are one statement: the points are before it (the version is
    # already bumped), after it (the messages are written, the turn row is not), and the
    # commit itself.
    first = {
        "before-messages": "INSERT INTO CONVO_MESSAGES",
        "before-turn": "INSERT INTO CONVO_TURNS",
    }

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        wanted = first.get(point)
        if wanted is not None and statement.lstrip().upper().startswith(wanted):
            pause()

    event.listen(store._engine, "before_cursor_execute", before)
    if point == "before-commit":
        event.listen(store._engine, "commit", lambda _conn: pause())


def crash(store: SQLStore, cid: str, point: str) -> None:
    _pause_at(store, point)
    version = 0
    n = 0
    while True:
        create = ConversationHeader(id=cid) if version == 0 else None
        version = store.append_turn(cid, version, tool_turn(str(n)), TurnMeta(), create=create)
        print("committed", flush=True)
        n += 1


def main(argv: list[str]) -> None:
    mode, url = argv[0], argv[1]
    with SQLStore(url, busy_timeout=30) as store:
        if mode == "write":
            print(write(store, argv[2], int(argv[3]), int(argv[4])), flush=True)
        elif mode == "crash":
            crash(store, argv[2], argv[3])
        elif mode == "migrate":
            time.sleep(max(0.0, float(argv[2]) - time.time()))
            print(store.latest(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
