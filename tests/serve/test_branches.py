"""Forks and branches over HTTP (convo's own endpoints), driven with plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from convo.store.aio import AsyncSQLStore
from tests.serve.conftest import KEYS, Served, serve
from tests.store.conftest import db_url  # noqa: F401  (the fixture, every backend)
from tests.support import ChatServer

openai = pytest.importorskip("openai")


class Api:
    """Raw calls to one server as one tenant."""

    def __init__(self, served: Served, key: str = "none") -> None:
        self.base = served.url
        self.headers = {"Authorization": f"Bearer {key}"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        r = httpx2.request(method, self.base + path, json=body, headers=self.headers)
        return r.status_code, r.json()

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, out = self.call(method, path, body)
        assert status == 200, out
        return out

    def items(self, cid: str) -> list[tuple[str, str]]:
        page = self.ok("GET", f"/conversations/{cid}/items?order=asc&limit=100")
        return [(i["id"], i["content"][0]["text"]) for i in page["data"]]

    def add(self, cid: str, *texts: str) -> None:
        roles = ["user", "assistant"]
        items = [{"role": roles[n % 2], "content": t} for n, t in enumerate(texts)]
        self.ok("POST", f"/conversations/{cid}/items", {"items": items})


def started(api: Api) -> str:
    conv = api.ok("POST", "/conversations", {"metadata": {"topic": "t"}})
    api.add(conv["id"], "u0", "a0", "u1", "a1")
    return str(conv["id"])


@pytest.fixture
def on_every_backend(upstream: ChatServer, db_url: str) -> Iterator[Served]:  # noqa: F811
    yield from serve(upstream, db_url)


def test_an_edit_is_a_fork_and_both_are_branches(on_every_backend: Served) -> None:
    api = Api(on_every_backend)
    cid = started(api)
    parent = api.items(cid)
    fork = api.ok("POST", f"/conversations/{cid}/fork", {"at": parent[2][0]})
    assert fork["object"] == "conversation" and fork["forked_from"] == cid
    assert fork["metadata"] == {"topic": "t"}  # the parent's, when none is given
    assert api.items(fork["id"]) == parent[:2]  # shared: the same items, the same ids
    api.add(fork["id"], "u1 edited", "a1 again")
    mine = api.items(fork["id"])
    there = {"object": "conversation.branch", "position": 2, "conversations": [cid, fork["id"]]}
    assert api.ok("GET", f"/conversations/{fork['id']}/branches")["data"] == [
        {**there, "item_id": mine[2][0], "index": 1}
    ]
    assert api.ok("GET", f"/conversations/{cid}/branches")["data"] == [
        {**there, "item_id": parent[2][0], "index": 0}
    ]
    assert api.items(cid) == parent  # the parent is untouched
    listed = {c["id"] for c in api.ok("GET", "/conversations")["data"]}
    assert {cid, fork["id"]} <= listed


def test_a_fork_takes_a_position_and_its_own_metadata(served: Served) -> None:
    api = Api(served)
    cid = started(api)
    fork = api.ok("POST", f"/conversations/{cid}/fork", {"at": 1, "metadata": {"k": "v"}})
    assert fork["metadata"] == {"k": "v"} and len(api.items(fork["id"])) == 1
    whole = api.ok("POST", f"/conversations/{cid}/fork", {})
    assert api.items(whole["id"]) == api.items(cid)
    assert api.ok("GET", f"/conversations/{cid}")["metadata"] == {"topic": "t"}
    assert "forked_from" not in api.ok("GET", f"/conversations/{cid}")


@pytest.mark.parametrize(
    ("body", "status"),
    [({"at": 5}, 400), ({"at": -1}, 400), ({"at": True}, 400), ({"at": "item_nope"}, 404)],
)
def test_a_bad_fork_point_says_where(served: Served, body: Any, status: int) -> None:
    api = Api(served)
    cid = started(api)
    got, out = api.call("POST", f"/conversations/{cid}/fork", body)
    assert got == status and out["error"]["param"] == "at"
    assert [c["id"] for c in api.ok("GET", "/conversations")["data"]] == [cid]  # none made


def test_without_siblings_there_are_no_branches_and_unknown_ids_are_404(served: Served) -> None:
    api = Api(served)
    cid = started(api)
    assert api.ok("GET", f"/conversations/{cid}/branches") == {"object": "list", "data": []}
    for method, path in [("GET", "/branches"), ("POST", "/fork")]:
        status, out = api.call(method, f"/conversations/conv_nope{path}", {})
        assert status == 404 and out["error"]["code"] == "not_found"


def test_another_tenant_sees_no_fork_and_no_branch(keyed: Served) -> None:
    alice, bob = Api(keyed, KEYS[0]), Api(keyed, KEYS[1])
    cid = started(alice)
    for method, path in [("GET", "/branches"), ("POST", "/fork")]:
        status, _ = bob.call(method, f"/conversations/{cid}{path}", {"at": 0})
        assert status == 404
    theirs = started(bob)
    fork = bob.ok("POST", f"/conversations/{theirs}/fork", {"at": 2})
    bob.add(fork["id"], "other")
    assert alice.ok("GET", f"/conversations/{cid}/branches")["data"] == []
    assert [c["id"] for c in alice.ok("GET", "/conversations")["data"]] == [cid]
    status, _ = alice.call("GET", f"/conversations/{fork['id']}/branches")
    assert status == 404


def test_a_deleted_branch_leaves_the_list(served: Served) -> None:
    api = Api(served)
    cid = started(api)
    fork = api.ok("POST", f"/conversations/{cid}/fork", {"at": 0})
    api.add(fork["id"], "another start")
    assert len(api.ok("GET", f"/conversations/{cid}/branches")["data"]) == 1
    api.ok("DELETE", f"/conversations/{fork['id']}")
    assert api.ok("GET", f"/conversations/{cid}/branches")["data"] == []


def test_a_parent_changed_while_forking_is_a_409_and_no_fork(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(served)
    cid = started(api)
    items = api.items(cid)
    fork = AsyncSQLStore.fork

    async def after_a_cut(self: AsyncSQLStore, sid: str, *, at: int, new_id: str | None) -> str:
        # Another request deletes the first item between the read of ``at`` and the fork.
        await self.delete_messages(sid, (await self.load(sid)).version, 0, 1)
        return await fork(self, sid, at=at, new_id=new_id)

    monkeypatch.setattr(AsyncSQLStore, "fork", after_a_cut)
    status, out = api.call("POST", f"/conversations/{cid}/fork", {"at": items[2][0]})
    monkeypatch.undo()
    assert status == 409 and out["error"]["code"] == "conversation_busy"
    assert [c["id"] for c in api.ok("GET", "/conversations")["data"]] == [cid]
    assert api.items(cid) == items[1:]
