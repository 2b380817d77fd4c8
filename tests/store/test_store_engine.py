"""Where the store lives by default, how URLs are read, and what errors say."""

from __future__ import annotations

from pathlib import Path

import pytest

from convo.errors import StoreError
from convo.store import _engine, _peek
from convo.store.sql import SQLStore


def test_the_url_comes_from_convo_db_then_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVO_DB", f"sqlite:///{tmp_path / 'env.db'}")
    with SQLStore() as store:
        store.latest()
    assert (tmp_path / "env.db").exists()
    monkeypatch.delenv("CONVO_DB")
    monkeypatch.setattr(_peek.platformdirs, "user_data_dir", lambda _app: str(tmp_path / "d"))
    with SQLStore() as store:
        store.latest()
    assert (tmp_path / "d" / "convo.db").exists()
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o700


def test_urls_get_the_installed_drivers() -> None:
    pg = _engine.make_engine("postgresql://u:secret@127.0.0.1/db", busy_timeout=1, echo=False)
    assert pg.url.drivername == "postgresql+psycopg"
    my = _engine.make_engine("mysql://u@127.0.0.1/db", busy_timeout=1, echo=False)
    assert (my.url.drivername, my.url.query["charset"]) == ("mysql+pymysql", "utf8mb4")
    store = SQLStore("postgresql://u:secret@127.0.0.1/db")
    assert "secret" not in repr(store)
    store.close()


def test_unusable_urls_are_refused_clearly() -> None:
    with pytest.raises(StoreError, match="in-memory"):
        SQLStore("sqlite://")
    with pytest.raises(StoreError, match="unsupported"):
        SQLStore("oracle://u@127.0.0.1/db")


def test_a_database_that_does_not_answer_is_a_store_error() -> None:
    with SQLStore("postgresql://u:secret@127.0.0.1:1/db") as store:
        with pytest.raises(StoreError, match="migrating the schema failed") as info:
            store.latest()
        assert "secret" not in str(info.value)


def test_compiled_statements_are_kept_per_driver_and_paramstyle(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from convo.store._rows import CONVERSATION

    qmark = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    named = create_engine(f"sqlite:///{tmp_path / 'a.db'}", paramstyle="named")
    assert qmark.dialect.name == named.dialect.name
    one, two = CONVERSATION._for(qmark.dialect), CONVERSATION._for(named.dialect)
    assert "?" in one.sql and ":cid" in two.sql
    qmark.dispose()
    named.dispose()
