"""The embedded database: started on a free port with its own data, refused clearly when it cannot be built."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from pymongo import MongoClient

from tmf_common import embedded_db
from tmf_common.embedded_db import EmbeddedDatabaseError, build_ferretdb, start_database


def test_without_go_or_mongod_the_error_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_db.shutil, "which", lambda _name: None)
    with pytest.raises(EmbeddedDatabaseError) as raised:
        build_ferretdb(cache_dir=tmp_path / "empty-cache")
    message = str(raised.value)
    assert "install Go" in message and "mongod" in message and "TMF_MONGODB_URI" in message


def test_two_instances_run_side_by_side_with_separate_data(tmp_path: Path) -> None:
    first = start_database(tmp_path / "one")
    second = start_database(tmp_path / "two")
    try:
        assert first.uri != second.uri
        with MongoClient(first.uri) as client_one, MongoClient(second.uri) as client_two:
            client_one.db.things.insert_one({"_id": "only-in-one"})
            assert client_two.db.things.find_one({"_id": "only-in-one"}) is None
            assert client_one.db.things.find_one({"_id": "only-in-one"}) == {"_id": "only-in-one"}
    finally:
        first.stop()
        second.stop()
    assert first.process.poll() is not None and second.process.poll() is not None


def test_the_built_server_looks_documents_up_through_its_id_index(tmp_path: Path) -> None:
    """The build's `_id` lookup fix: the lookup expression in the binary is the one SQLite serves from the index
    FerretDB itself creates for `_id` (without the fix every find, update and delete by `_id` read the table)."""
    binary = build_ferretdb().read_bytes()
    assert b"_ferretdb_sjson->'_id'" in binary  # the SQLite backend's lookup (the other backends name other columns)
    running = start_database(tmp_path / "db")
    try:
        with MongoClient(running.uri) as client:
            client.lookups.things.insert_many([{"_id": f"thing-{number}"} for number in range(50)])
            assert client.lookups.things.find_one({"_id": "thing-7"}) == {"_id": "thing-7"}
    finally:
        running.stop()
    files = list((tmp_path / "db").rglob("lookups.sqlite"))
    assert len(files) == 1
    with closing(sqlite3.connect(files[0])) as database:
        table, index_sql = database.execute(
            "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '%_id%'"
        ).fetchone()
        assert '->"_id"' in index_sql  # FerretDB's own unique `_id` index
        plan = database.execute(
            f"EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM \"{table}\" WHERE _ferretdb_sjson->'_id' = ?",
            ('"thing-7"',),
        ).fetchall()
    assert any("USING INDEX" in row[-1] for row in plan), plan
    assert not _apply_fix_to(tmp_path, "IDColumn = DefaultColumn + \"->'_id'\"")


def _apply_fix_to(tmp_path: Path, line: str) -> bool:
    """Whether the fix applies to a metadata.go holding `line` (it refuses source it does not recognise)."""
    relative = embedded_db.ID_LOOKUP_FIX[0]
    (tmp_path / "src" / relative).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "src" / relative).write_text(f"const (\n\t{line}\n)\n")
    try:
        embedded_db._apply_id_lookup_fix(tmp_path / "src")
    except EmbeddedDatabaseError:
        return False
    return True
