"""A persistent multi-turn chatbot: every turn is saved, and a restart resumes it.

    python examples/chatbot.py            # offline, with the local model plugin
    OPENAI_BASE_URL=... OPENAI_API_KEY=... CONVO_MODEL=gpt-4o-mini python examples/chatbot.py

Pass ``--db sqlite:///chat.db`` to choose the database, ``--new`` to start afresh.
"""

from __future__ import annotations

import argparse

from convo import Conversation, SQLStore
from convo.models import default_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: CONVO_DB or a file)")
    parser.add_argument("--new", action="store_true", help="start a new conversation")
    parser.add_argument("--say", action="append", help="send this instead of reading stdin")
    args = parser.parse_args()

    store = SQLStore(args.db)
    latest = None if args.new else store.latest()
    if latest:
        conv = Conversation.load(latest, store=store)
        print(f"(resuming {conv.id}: {len(conv.history)} messages)")
    else:
        conv = Conversation(
            "You are a friendly, concise assistant.",
            model=default_model(),
            store=store,
            max_tokens=200,
        )
    lines = args.say or iter(lambda: input("you> "), "")
    try:
        for line in lines:
            print("bot> ", end="", flush=True)
            for delta in conv.stream(line):
                print(delta, end="", flush=True)
            print()
    except (EOFError, KeyboardInterrupt):
        print()
    print(f"(saved as {conv.id})")


if __name__ == "__main__":
    main()
