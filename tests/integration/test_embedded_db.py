"""The embedded database: started on a free port with its own data, refused clearly when it cannot be built."""

from __future__ import annotations

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
