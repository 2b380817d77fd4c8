"""The message tree: forks, and the sibling branches a chat UI switches between.

A message is identified by its row's (source conversation, seq), and a conversation's
history is its segments: position ``k`` holds the row ``(source, k)`` of the segment
that covers ``k``. Two conversations hold the same message at ``k`` exactly when their
segments cover ``k`` with the same source (a fork copies its parent's segments, clipped
at the fork point; seq numbers continue along a path). So the tree needs no parent link
per row: where two histories part is where their segments start to disagree.

>>> a = [Seg("A", 0, None)]               # A: its own rows from 0
>>> b = [Seg("A", 0, 3), Seg("B", 3, None)]  # B = fork(A, at=3), then its own rows
>>> shared(a, 6, b, 5)
3
>>> source_at(b, 4)
'B'
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, insert, or_, select

from convo.errors import InputError, VersionConflictError
from convo.store import _codec as codec, _rows as ops
from convo.store._rows import SEGMENTS, C, M, S
from convo.store.base import Branch

__all__ = ["Seg", "branches", "fork", "shared", "source_at"]


class Seg(NamedTuple):
    """Rows ``lo <= seq < hi`` of ``source`` (``hi`` None: no end)."""

    source: str
    lo: int
    hi: int | None


def source_at(segments: Sequence[Seg], k: int) -> str | None:
    """The source of position ``k``, or None when no segment covers it."""
    for seg in segments:
        if seg.lo <= k and (seg.hi is None or k < seg.hi):
            return seg.source
    return None


def _end(segments: Sequence[Seg], k: int, count: int) -> int:
    """Where the segment covering ``k`` ends (``count`` for the open one)."""
    for seg in segments:
        if seg.lo <= k and (seg.hi is None or k < seg.hi):
            return count if seg.hi is None else min(seg.hi, count)
    return k


def shared(a: Sequence[Seg], count_a: int, b: Sequence[Seg], count_b: int) -> int:
    """How many leading messages two histories have in common (same rows, not equal text).

    A conversation has one segment per source, so within a segment both agree until the
    shorter one ends; each step moves past a segment end.
    """
    limit = min(count_a, count_b)
    k = 0
    while k < limit:
        source = source_at(a, k)
        if source is None or source != source_at(b, k):
            return k
        k = max(k + 1, min(_end(a, k, count_a), _end(b, k, count_b)))
    return limit


def fork(s: Connection, cid: str, at: int, fork_id: str) -> str:
    """Create ``fork_id`` whose history is ``cid``'s ``[0, at)``, shared, not copied."""
    row = ops.row(s, cid, lock=True)
    if not 0 <= at <= row.message_count:
        raise InputError(f"fork point {at} is outside [0, {row.message_count}]")
    if ops.exists(s, fork_id):
        raise VersionConflictError(f"conversation {fork_id!r} already exists", expected=0)
    header = codec.header_from_row(row).model_copy(
        update={"id": fork_id, "forked_from": cid, "created_at": None, "updated_at": None}
    )
    ops.insert_conversation(
        s, header, ops.now(), version=1, count=at, preview=row.preview if at > 0 else None
    )
    for source, lo, hi in s.execute(
        select(S.source_id, S.lo, S.hi).where(S.conversation_id == cid)
    ).all():
        hi = at if hi is None else min(hi, at)
        if lo < hi:
            s.execute(
                insert(SEGMENTS).values(conversation_id=fork_id, source_id=source, lo=lo, hi=hi)
            )
    return fork_id


def new_id() -> str:
    return uuid.uuid4().hex


class _Member(NamedTuple):
    messages: int
    updated_at: datetime
    segments: list[Seg]


def _family(s: Connection, cid: str) -> set[str]:
    """Every conversation that can be a sibling of ``cid``'s messages: those that share a
    row with it, and those linked to it by ``forked_from`` in either direction, however
    far (a fork at 0 shares no row but is an edit of the first message). Deleted ones
    are included here, as links; the caller keeps the live ones.
    """
    mine = select(S.source_id).where(S.conversation_id == cid).scalar_subquery()
    family = set(s.execute(select(S.conversation_id).where(S.source_id.in_(mine))).scalars())
    family.add(cid)
    frontier = set(family)
    while frontier:
        rows = s.execute(
            select(C.id, C.forked_from).where(or_(C.id.in_(frontier), C.forked_from.in_(frontier)))
        ).all()
        found = {x for r in rows for x in r if x is not None}
        frontier = found - family
        family |= found
    return family


def _members(s: Connection, ids: set[str]) -> dict[str, _Member]:
    """The live conversations among ``ids``, with their counts and segments."""
    heads = s.execute(
        select(C.id, C.message_count, C.updated_at).where(C.id.in_(ids), ~C.deleted)
    ).all()
    members = {r.id: _Member(r.message_count, r.updated_at, []) for r in heads}
    for r in s.execute(
        select(S.conversation_id, S.source_id, S.lo, S.hi)
        .where(S.conversation_id.in_(list(members)))
        .order_by(S.conversation_id, S.lo)
    ):
        members[r.conversation_id].segments.append(Seg(r.source_id, r.lo, r.hi))
    return members


def branches(s: Connection, cid: str) -> list[Branch]:
    """Each position of ``cid``'s history where a sibling message exists, in order."""
    ops.row(s, cid)  # raises ConversationNotFoundError
    members = _members(s, _family(s, cid))
    me = members[cid]
    # position -> source of the sibling message there -> the conversations that hold it
    parting: dict[int, dict[str, list[str]]] = {}
    for other, m in members.items():
        if other == cid:
            continue
        k = shared(me.segments, me.messages, m.segments, m.messages)
        if k < me.messages and k < m.messages:  # both go on, with different messages
            source = source_at(m.segments, k)
            assert source is not None  # a live conversation's segments cover its history
            parting.setdefault(k, {}).setdefault(source, []).append(other)
    out = []
    for k in sorted(parting):
        own = source_at(me.segments, k)
        assert own is not None
        # Switching to a sibling message opens the conversation that continued it last
        # (as chat UIs return to the branch one was on); this one stands for its own.
        pick = {own: cid}
        for source, holders in parting[k].items():
            pick[source] = max(holders, key=lambda h: (members[h].updated_at, h))
        # Siblings in the order their messages were written: row ids only grow.
        order = dict(
            s.execute(
                select(M.conversation_id, M.id).where(M.seq == k, M.conversation_id.in_(list(pick)))
            ).all()
        )
        ids = [pick[source] for source in sorted(pick, key=lambda src: order[src])]
        out.append(Branch(position=k, conversations=ids, index=ids.index(cid)))
    return out
