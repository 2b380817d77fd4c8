"""SQLStore: conversations in SQLite, PostgreSQL or MariaDB through SQLAlchemy.

>>> import tempfile, os
>>> from convo.messages import Message
>>> from convo.store.base import ConversationHeader, TurnMeta
>>> path = os.path.join(tempfile.mkdtemp(), "doc.db")
>>> with SQLStore(f"sqlite:///{path}") as store:
...     v = store.append_turn("c1", 0, [Message.user("Hi"), Message.assistant("Hello")],
...                           TurnMeta(), create=ConversationHeader(id="c1"))
...     [m.text for m in store.load("c1").messages], v
(['Hi', 'Hello'], 1)

The design (segments, tombstones, versions) is in docs/store.md.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Self, TypeVar

from sqlalchemy import (
    Connection,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from convo.errors import (
    ConversationNotFoundError,
    InputError,
    StoreError,
    VersionConflictError,
)
from convo.messages import Message
from convo.store import _codec as codec, _edit, _listing, _porting, _rows as ops, _transfer, _tree
from convo.store._checks import (
    check_header,
    check_id,
    check_keys,
    check_metadata_keys,
    check_turn,
)
from convo.store._engine import WRITE, Durability, default_url, make_engine, retrying
from convo.store._migrate import upgrade
from convo.store._rows import (
    CONVERSATIONS,
    MD,
    METADATA,
    TR,
    TURNS,
    C,
)
from convo.store.base import (
    Branch,
    ConversationHeader,
    ConversationSummary,
    StoredConversation,
    Totals,
    TurnMeta,
)

__all__ = ["SQLStore"]

T = TypeVar("T")


class SQLStore:
    """A store on any SQLAlchemy URL: ``sqlite:///path``, ``postgresql://...``,
    ``mariadb://...``. With no URL: ``CONVO_DB``, else ``convo.db`` in the user's data
    directory. The schema is created or upgraded on first use.

    ``durability="normal"`` (the default) commits on SQLite with ``synchronous=NORMAL``:
    a crash of the application loses nothing, a power cut or an OS crash may lose the last
    turns committed. ``"full"`` waits for the disk at every commit (SQLite
    ``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``); MariaDB follows its
    server's ``innodb_flush_log_at_trx_commit``. ``busy_timeout`` is the longest a call
    waits for SQLite's write lock before :class:`~convo.errors.StoreBusyError`.

    Thread-safe: every method runs in its own transaction on a pooled connection.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        busy_timeout: float = 5.0,
        echo: bool = False,
        durability: Durability = "normal",
    ):
        self._engine = make_engine(
            url or default_url(), busy_timeout=busy_timeout, echo=echo, durability=durability
        )
        self._writer = self._engine.execution_options(**{WRITE: True})
        self._backend = self._engine.dialect.name
        self._ready = False
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLStore({self.url!r})"

    @property
    def url(self) -> str:
        """The store's SQLAlchemy URL, a password in it shown as ``***``."""
        return self._engine.url.render_as_string(hide_password=True)

    # -- transactions ------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                retrying(lambda: upgrade(self._engine), "migrating the schema")
                self._ready = True

    def _run(self, fn: Callable[[Connection], T], what: str, *, write: bool) -> T:
        self._ensure_schema()
        engine = self._writer if write else self._engine

        def transaction() -> T:
            with engine.begin() as conn:
                return fn(conn)

        return retrying(transaction, what)

    # -- writing -----------------------------------------------------------------------

    def append_turn(
        self,
        conversation_id: str,
        expected_version: int,
        messages: Sequence[Message],
        meta: TurnMeta,
        *,
        create: ConversationHeader | None = None,
        metadata: Mapping[str, Any] | None = None,
        keys: Sequence[str] | None = None,
    ) -> int:
        """Commit one turn's messages in one transaction; returns the new version.

        With ``create`` and ``expected_version == 0`` the conversation is created in the
        same transaction; ``metadata``, when given, replaces the header's metadata in
        it too. ``keys`` (one per message, each ``secrets.token_hex(12)``) are the
        messages' keys, for a caller that names them before they are written; by default
        the store makes them. Raises :class:`VersionConflictError` when another writer
        appended first (reload and retry).
        """
        check_id(conversation_id)
        batch = list(messages)
        if not batch:
            raise InputError("a turn needs at least one message")
        if create is not None:
            if create.id != conversation_id:
                raise InputError(f"create.id {create.id!r} is not {conversation_id!r}")
            check_header(create)
        check_turn(meta)
        if keys is not None:
            check_keys(keys, len(batch))
        if metadata is not None:
            check_metadata_keys(metadata)
        if self._backend == "postgresql":
            codec.check_no_nul(batch, create)
        creating = create is not None and expected_version == 0

        def write(s: Connection) -> int:
            # Four statements for a two-message turn on SQLite and PostgreSQL: the
            # version check (which also reads the count), the messages, the turn row,
            # and the conversation's new count and preview.
            now = ops.now()
            if creating:
                assert create is not None
                if ops.exists(s, conversation_id):
                    raise ops.conflict(s, conversation_id, expected_version)
                ops.insert_conversation(s, create, now, version=1)
                count, version = 0, 1
            else:
                count = ops.advance(s, conversation_id, expected_version, now)
                version = expected_version + 1
            ops.insert_messages(s, conversation_id, batch, count, now, keys)
            turn = codec.turn_columns(meta)
            turn["conversation_id"] = conversation_id
            turn["version"] = version
            turn["first_seq"] = count
            turn["n_messages"] = len(batch)
            turn["created_at"] = now
            ops.INSERT_TURN.run(s, turn)
            ops.ADVANCE.run(
                s,
                {
                    "cid": conversation_id,
                    "count": count + len(batch),
                    "preview": ops.preview(batch),
                },
            )
            if metadata is not None:
                s.execute(
                    update(CONVERSATIONS)
                    .where(C.id == conversation_id)
                    .values(metadata_json=codec.dumps(dict(metadata)))
                )
                s.execute(delete(METADATA).where(MD.conversation_id == conversation_id))
                ops.insert_metadata(s, conversation_id, dict(metadata))
            return version

        try:
            return self._run(write, "appending a turn", write=True)
        except StoreError as exc:
            if (
                creating
                and isinstance(exc.__cause__, IntegrityError)
                and self._taken(conversation_id)
            ):
                # Two creators raced; the database's primary key picked the winner. Any
                # other failed constraint stays the store error that names it.
                raise VersionConflictError(
                    f"conversation {conversation_id!r} was created by another writer",
                    expected=0,
                    actual=None,
                ) from None
            raise

    def _taken(self, conversation_id: str) -> bool:
        return self._run(lambda s: ops.exists(s, conversation_id), "reading a header", write=False)

    def set_title(self, conversation_id: str, title: str | None) -> None:
        """Rename a conversation (its version and ``updated_at`` do not change)."""
        self.update_header(conversation_id, title=title)

    def update_header(self, conversation_id: str, **fields: Any) -> ConversationHeader:
        """Change header fields (model, system, template_*, variables, params, title,
        metadata); returns the new header. The history and version do not change.
        """
        check_id(conversation_id)
        unknown = set(fields) - ops.HEADER_FIELDS
        if unknown:
            raise InputError(f"not header fields: {', '.join(sorted(unknown))}")

        def write(s: Connection) -> ConversationHeader:
            row = ops.row(s, conversation_id, lock=True)
            new = codec.header_from_row(row).model_copy(update=fields)
            new = ConversationHeader.model_validate(new.model_dump())
            check_header(new)
            if self._backend == "postgresql":
                codec.check_no_nul((), new)
            s.execute(
                update(CONVERSATIONS)
                .where(C.id == conversation_id)
                .values(
                    model=new.model,
                    system=new.system,
                    title=new.title,
                    template_name=new.template_name,
                    template_hash=new.template_hash,
                    template_source=new.template_source,
                    variables=codec.dumps(new.variables),
                    params=codec.dumps(codec.scrub(new.params)),
                    metadata_json=codec.dumps(new.metadata),
                )
            )
            if "metadata" in fields:
                s.execute(delete(METADATA).where(MD.conversation_id == conversation_id))
                ops.insert_metadata(s, conversation_id, new.metadata)
            return new

        return self._run(write, "updating a header", write=True)

    # -- reading -----------------------------------------------------------------------

    def header(self, conversation_id: str) -> ConversationHeader:
        """The conversation's header, without its messages."""
        check_id(conversation_id)
        return self._run(
            lambda s: codec.header_from_row(ops.row(s, conversation_id)),
            "reading a header",
            write=False,
        )

    def load(
        self, conversation_id: str, *, tail: int | None = None, keys: bool = False
    ) -> StoredConversation:
        """The header and history (in ``seq`` order); ``tail=N`` loads only the last N.

        A tail never starts with a ``tool`` message whose call was cut off: those are
        dropped, so the tail may hold fewer than N messages. ``keys=True`` also reads each
        message's key (``StoredConversation.keys``) in the same transaction.
        """
        check_id(conversation_id)
        if tail is not None and tail < 0:
            raise InputError("tail must be >= 0")

        def read(s: Connection) -> StoredConversation:
            row = ops.row(s, conversation_id)
            start = 0 if tail is None else max(0, row.message_count - tail)
            messages = ops.messages(s, conversation_id, start, row.message_count)
            dropped = 0
            if start > 0:
                while dropped < len(messages) and messages[dropped].role == "tool":
                    dropped += 1
                del messages[:dropped]
            found = None
            if keys:
                found = ops.keys(s, conversation_id, start + dropped, row.message_count)
            # Every field is already a built value; validating would rerun each
            # message's validator (pydantic calls "after" validators on instances too),
            # ~2 us a message.
            return StoredConversation.model_construct(
                header=codec.header_from_row(row),
                messages=messages,
                version=row.version,
                truncated=start > 0,
                offset=start + dropped,
                keys=found,
            )

        return self._run(read, "loading a conversation", write=False)

    def turns(self, conversation_id: str) -> list[TurnMeta]:
        """The metadata of the conversation's own turns, oldest first."""
        check_id(conversation_id)

        def read(s: Connection) -> list[TurnMeta]:
            ops.row(s, conversation_id)
            rows = s.execute(
                select(TURNS).where(TR.conversation_id == conversation_id).order_by(TR.version)
            )
            return [codec.turn_from_row(r) for r in rows]

        return self._run(read, "reading turns", write=False)

    def totals(self, conversation_id: str | None = None) -> Totals:
        """The summed usage and cost of the conversation's own turns (of every stored
        conversation's, without an id), in one query."""
        if conversation_id is not None:
            check_id(conversation_id)
        query = select(
            func.coalesce(func.sum(TR.prompt_tokens), 0),
            func.coalesce(func.sum(TR.completion_tokens), 0),
            func.coalesce(func.sum(TR.total_tokens), 0),
            func.sum(TR.cost),
            func.count(TR.id) - func.count(TR.cost),
        ).select_from(C)
        query = query.outerjoin(TR, TR.conversation_id == C.id).where(~C.deleted)
        if conversation_id is not None:
            query = query.where(C.id == conversation_id).group_by(C.id)

        def read(s: Connection) -> Totals:
            row = s.execute(query).first()
            if row is None:
                raise ConversationNotFoundError(conversation_id or "")
            return Totals(
                prompt_tokens=int(row[0]),
                completion_tokens=int(row[1]),
                total_tokens=int(row[2]),
                cost=float(row[3]) if row[3] is not None else None,
                unpriced=int(row[4] or 0),
            )

        return self._run(read, "summing usage", write=False)

    def list(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        title: str | None = None,
        text: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[ConversationSummary]:
        """Conversations, most recently updated first; filters combine with AND.

        ``title`` and ``text`` match a substring (case-insensitive in every script;
        ``text`` in any message, inherited ones included); ``metadata`` matches keys with
        equal values. ``before=(s.updated_at, s.id)`` of the last summary of a page gives
        the next page: unlike ``offset``, it neither repeats nor skips a conversation
        when others are written meanwhile.
        """
        query = _listing.query(
            self._backend,
            limit=limit,
            offset=offset,
            title=title,
            text=text,
            metadata=metadata,
            before=before,
        )
        return self._run(
            lambda s: _listing.summaries(s, query), "listing conversations", write=False
        )

    def ids(self, prefix: str, *, limit: int = 10) -> builtins.list[str]:
        """Ids of the conversations whose id starts with ``prefix``, at most ``limit``,
        sorted: what a short id given on the command line may stand for."""
        if not isinstance(prefix, str) or not prefix or "\x00" in prefix:
            raise InputError(f"an id prefix must be a non-empty string, got {prefix!r}")
        query = (
            select(C.id)
            .where(~C.deleted, C.id.startswith(prefix, autoescape=True))
            .order_by(C.id)
            .limit(limit)
        )
        return self._run(
            lambda s: list(s.execute(query).scalars()), "finding conversation ids", write=False
        )

    def latest(self) -> str | None:
        """The id of the most recently updated conversation, if any."""
        query = select(C.id).where(~C.deleted).order_by(C.updated_at.desc(), C.id.desc())
        return self._run(
            lambda s: s.execute(query.limit(1)).scalar_one_or_none(),
            "finding the latest conversation",
            write=False,
        )

    # -- forks and deletion --------------------------------------------------------------

    def fork(self, conversation_id: str, *, at: int, new_id: str | None = None) -> str:
        """A new conversation whose history is messages ``[0, at)`` of this one, shared
        (not copied). Returns its id; its header is a copy with ``forked_from`` set.
        """
        check_id(conversation_id)
        fork_id = _tree.new_id() if new_id is None else new_id
        check_id(fork_id)

        def write(s: Connection) -> str:
            return _tree.fork(s, conversation_id, at, fork_id)

        return self._run(write, "forking a conversation", write=True)

    def branches(self, conversation_id: str) -> builtins.list[Branch]:
        """The messages of this conversation's history that have siblings, in order.

        A sibling is the message another conversation holds at the same position after
        the same history (an edit made with ``fork(at=position)`` and a new turn); forks
        at 0 count through ``forked_from``. See :class:`~convo.store.base.Branch`.

        >>> import tempfile, os
        >>> from convo.messages import Message
        >>> from convo.store.base import ConversationHeader, TurnMeta
        >>> store = SQLStore(f"sqlite:///{os.path.join(tempfile.mkdtemp(), 'b.db')}")
        >>> turn = [Message.user("Hi"), Message.assistant("Hello")]
        >>> store.append_turn("a", 0, turn, TurnMeta(), create=ConversationHeader(id="a"))
        1
        >>> b = store.fork("a", at=1, new_id="b")
        >>> store.append_turn("b", 1, [Message.assistant("Hey")], TurnMeta())
        2
        >>> store.branches("b")
        [Branch(position=1, conversations=['a', 'b'], index=1)]
        >>> store.close()
        """
        check_id(conversation_id)
        return self._run(
            lambda s: _tree.branches(s, conversation_id), "reading branches", write=False
        )

    def delete_messages(
        self, conversation_id: str, expected_version: int, start: int, stop: int
    ) -> int:
        """Remove the messages at positions ``[start, stop)`` from the history (like
        ``del history[start:stop]``) in one transaction; returns the new version.

        ``expected_version`` is the version the positions were read at: another writer's
        turn meanwhile raises :class:`VersionConflictError` and nothing changes. A cut
        through a tool round (a tool answer without its call, or the reverse) is refused
        with :class:`InputError`. Forks sharing those messages keep them.
        """
        check_id(conversation_id)
        return self._run(
            lambda s: _edit.delete_messages(s, conversation_id, expected_version, start, stop),
            "deleting messages",
            write=True,
        )

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation. Forks that share its messages keep working: rows they
        inherit stay (the conversation becomes an invisible tombstone) until the last such
        fork is deleted too.
        """
        check_id(conversation_id)

        self._run(
            lambda s: _edit.delete_conversation(s, conversation_id),
            "deleting a conversation",
            write=True,
        )

    def export(self, conversation_id: str) -> dict[str, Any]:
        """One conversation as JSON-able data: header, messages (API shape), turns."""
        check_id(conversation_id)

        return self._run(
            lambda s: _porting.export(s, conversation_id), "exporting a conversation", write=False
        )

    def import_(
        self, data: Mapping[str, Any], *, new_id: bool = False, keep_token_counts: bool = False
    ) -> str:
        """Store an exported conversation; returns its id (a fresh one if ``new_id``).

        The file's token counts are validated, and dropped (recounted on use) unless
        ``keep_token_counts``.
        """
        plan = _transfer.parse(data, keep_token_counts=keep_token_counts)
        header = plan.header
        if new_id:
            header = header.model_copy(update={"id": _tree.new_id()})
        check_header(header)
        for _, _, _, meta in plan.turns:
            check_turn(meta)
        if self._backend == "postgresql":
            codec.check_no_nul(plan.messages, header)

        return self._run(
            lambda s: _porting.write(s, plan, header), "importing a conversation", write=True
        )

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
