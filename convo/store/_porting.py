"""Export and import as store transactions (the file format itself is in _transfer.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from convo.errors import VersionConflictError
from convo.store import _codec as codec, _rows as ops, _transfer
from convo.store._rows import CONVERSATIONS, TR, TURNS, C
from convo.store.base import ConversationHeader

__all__ = ["export", "write"]


def export(s: Connection, cid: str) -> dict[str, Any]:
    """One conversation, whole (a fork with its inherited history), as export data."""
    row = ops.row(s, cid)
    messages = ops.messages(s, cid, 0, row.message_count)
    turns = s.execute(select(TURNS).where(TR.conversation_id == cid).order_by(TR.version))
    return _transfer.export_data(
        codec.header_from_row(row),
        row.version,
        messages,
        [(t.version, t.first_seq, t.n_messages, codec.turn_from_row(t)) for t in turns],
    )


def write(s: Connection, plan: _transfer.Plan, header: ConversationHeader) -> str:
    """Write a validated import under ``header``'s id; a taken id is a conflict."""
    if ops.exists(s, header.id):
        raise VersionConflictError(f"conversation {header.id!r} already exists", expected=0)
    now = ops.now()
    ops.insert_conversation(s, header, now, version=plan.version)
    ops.insert_messages(s, header.id, plan.messages, 0, now)
    if plan.turns:
        turns = [
            dict(
                conversation_id=header.id,
                version=version,
                first_seq=first,
                n_messages=n,
                # An export's turn times are kept: `convo logs` shows when they happened.
                created_at=ops.naive(meta.created_at) or now,
                **codec.turn_columns(meta),
            )
            for version, first, n, meta in plan.turns
        ]
        s.execute(insert(TURNS), turns)
    s.execute(
        update(CONVERSATIONS)
        .where(C.id == header.id)
        .values(message_count=len(plan.messages), preview=ops.preview(plan.messages))
    )
    return header.id
