"""Taking things out: a whole conversation, or a run of messages from its history.

Both keep every other conversation whole. Rows a fork still reads are never changed:
deleting a conversation leaves them as a tombstone (see ``_rows.collect``); cutting
messages out of a history moves the conversation's own rows that forks read to a new
tombstone, repoints those forks at it, and writes the messages after the cut again as
the conversation's own rows (see docs/store.md, "Deleting messages").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete as sql_delete, insert, select, update

from convo.errors import InputError
from convo.store import _rows as ops, _tree as tree
from convo.store._rows import CONVERSATIONS, MESSAGES, METADATA, SEGMENTS, TR, TURNS, C, M, S

__all__ = ["delete_conversation", "delete_messages"]

# The columns a message row carries besides its place (conversation_id, seq).
_CONTENT = [c for c in MESSAGES.columns if c.key not in ("id", "conversation_id", "seq")]


def delete_conversation(s: Connection, cid: str) -> None:
    """Delete ``cid``; collect the rows no other conversation reads any more."""
    ops.row(s, cid, lock=True)
    sources = s.execute(select(S.source_id).where(S.conversation_id == cid)).scalars().all()
    for table in (SEGMENTS, TURNS, METADATA):
        s.execute(sql_delete(table).where(table.c.conversation_id == cid))
    s.execute(update(CONVERSATIONS).where(C.id == cid).values(deleted=True))
    for source in sources:
        ops.collect(s, source)


def _rows(s: Connection, cid: str, start: int, end: int) -> list[Any]:
    """The message rows at positions ``[start, end)`` of ``cid``'s history, in order."""
    out: list[Any] = []
    for source, lo, hi in ops.SEGMENTS_OF.rows(s, {"cid": cid}):
        lo, hi = max(lo, start), end if hi is None else min(hi, end)
        if lo < hi:
            out.extend(
                s.execute(
                    select(M.seq, *_CONTENT)
                    .where(M.conversation_id == source, M.seq >= lo, M.seq < hi)
                    .order_by(M.seq)
                ).all()
            )
    return out


def _check_cut(rows: list[Any], start: int, stop: int) -> None:
    # A tool round is an assistant message with tool_calls and the tool messages that
    # answer it; a cut through one would leave an orphan answer or an unanswered call,
    # which no API accepts. Cutting at a boundary that is not a tool message keeps
    # every round whole.
    if rows[0].role == "tool":
        raise InputError(
            f"cannot delete from message {start}: it answers a tool call of an earlier "
            "message; delete the whole tool round (from its assistant message)"
        )
    if stop - start < len(rows) and rows[stop - start].role == "tool":
        raise InputError(
            f"cannot delete messages [{start}, {stop}): message {stop} would answer a tool "
            "call that is deleted; delete the tool answers too"
        )


def _free_own_rows(s: Connection, cid: str, start: int) -> None:
    """Take ``cid``'s own rows at ``seq >= start`` out of its way.

    Rows no fork reads are deleted. Rows forks still read are moved to a new tombstone
    (a deleted conversation row), and the forks' segments repointed at it, so their
    histories do not change and ``cid`` can write new rows at those seq numbers.
    """
    others = s.execute(
        select(S.conversation_id, S.lo, S.hi).where(
            S.source_id == cid, S.conversation_id != cid, S.hi > start
        )
    ).all()
    if not others:
        s.execute(sql_delete(MESSAGES).where(M.conversation_id == cid, M.seq >= start))
        return
    stone = tree.new_id()
    now = ops.now()
    s.execute(
        insert(CONVERSATIONS).values(
            id=stone,
            variables="{}",
            params="{}",
            metadata_json="{}",
            version=0,
            message_count=0,
            deleted=True,
            created_at=now,
            updated_at=now,
        )
    )
    s.execute(
        update(MESSAGES)
        .where(M.conversation_id == cid, M.seq >= start)
        .values(conversation_id=stone)
    )
    for fork_id, lo, hi in others:
        mine = (S.conversation_id == fork_id, S.source_id == cid)
        if lo >= start:
            s.execute(update(SEGMENTS).where(*mine).values(source_id=stone))
        else:
            s.execute(update(SEGMENTS).where(*mine).values(hi=start))
            s.execute(
                insert(SEGMENTS).values(conversation_id=fork_id, source_id=stone, lo=start, hi=hi)
            )


def _clip_segments(s: Connection, cid: str, start: int) -> list[str]:
    """``cid``'s inherited segments end at ``start``; its own one begins there at most.
    Returns the sources it now reads less of (tombstones among them may be collectable).
    """
    clipped = []
    for source, lo, hi in ops.SEGMENTS_OF.rows(s, {"cid": cid}):
        mine = (S.conversation_id == cid, S.source_id == source)
        if source == cid:
            if lo > start:
                s.execute(update(SEGMENTS).where(*mine).values(lo=start))
        elif lo >= start:
            s.execute(sql_delete(SEGMENTS).where(*mine))
            clipped.append(source)
        elif hi is None or hi > start:
            s.execute(update(SEGMENTS).where(*mine).values(hi=start))
            clipped.append(source)
    return clipped


def _shift_turns(s: Connection, cid: str, start: int, stop: int) -> None:
    """Keep each turn's message range right: turns keep their usage (it was spent) even
    when all their messages are gone."""
    cut = stop - start
    overlapping = s.execute(
        select(TR.id, TR.first_seq, TR.n_messages).where(
            TR.conversation_id == cid,
            TR.first_seq < stop,
            TR.first_seq + TR.n_messages > start,
        )
    ).all()
    for turn_id, first, n in overlapping:
        gone = min(first + n, stop) - max(first, start)
        s.execute(
            update(TURNS)
            .where(TR.id == turn_id)
            .values(first_seq=min(first, start), n_messages=n - gone)
        )
    s.execute(
        update(TURNS)
        .where(TR.conversation_id == cid, TR.first_seq >= stop)
        .values(first_seq=TR.first_seq - cut)
    )


def _preview(s: Connection, cid: str, start: int, tail: list[Any]) -> str | None:
    """The first user message of the new history (the listing's preview)."""
    for source, lo, hi in ops.SEGMENTS_OF.rows(s, {"cid": cid}):
        hi = start if hi is None else min(hi, start)
        if lo < hi:
            text = s.execute(
                select(M.text)
                .where(M.conversation_id == source, M.seq >= lo, M.seq < hi, M.role == "user")
                .order_by(M.seq)
                .limit(1)
            ).first()
            if text is not None:
                return (text[0] or "")[: ops.PREVIEW_LENGTH]
    for r in tail:
        if r.role == "user":
            return str(r.text or "")[: ops.PREVIEW_LENGTH]
    return None


def delete_messages(s: Connection, cid: str, expected: int, start: int, stop: int) -> int:
    """Remove positions ``[start, stop)`` from ``cid``'s history; returns the new version."""
    count = ops.advance(s, cid, expected, ops.now())
    if not 0 <= start < stop <= count:
        raise InputError(f"messages [{start}, {stop}) are not within the history [0, {count})")
    rows = _rows(s, cid, start, count)
    _check_cut(rows, start, stop)
    tail = rows[stop - start :]
    clipped = _clip_segments(s, cid, start)
    _free_own_rows(s, cid, start)
    if tail:
        s.execute(
            insert(MESSAGES),
            [
                {
                    "conversation_id": cid,
                    "seq": start + i,
                    **{c.key: r._mapping[c.key] for c in _CONTENT},
                }
                for i, r in enumerate(tail)
            ],
        )
    for source in clipped:
        ops.collect(s, source)  # a deleted source no one reads any more goes now
    _shift_turns(s, cid, start, stop)
    removed = rows[: stop - start]
    values: dict[str, Any] = {"message_count": count - (stop - start)}
    if any(r.role == "user" for r in removed):
        values["preview"] = _preview(s, cid, start, tail)
    s.execute(update(CONVERSATIONS).where(C.id == cid).values(**values))
    return expected + 1
