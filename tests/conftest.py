"""Session fixtures: one real database server for the run, one app on loopback, a clean database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pymongo import MongoClient

from tests.support import ServerThread
from tmf_common.embedded_db import start_database
from tmf_common.settings import Settings
from tmf_server.app import create_app

TEST_DATABASE = "tmf_test"
CATALOG_BASE = "/tmf-api/productCatalogManagement/v4"
SHARED_SPECS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "tmf-specs"


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TMF_TEST_MONGODB_URI when given, else the embedded server on a free port with a temporary data folder."""
    given = os.environ.get("TMF_TEST_MONGODB_URI")
    if given:
        yield given
        return
    running = start_database(tmp_path_factory.mktemp("database"))
    try:
        yield running.uri
    finally:
        running.stop()


@pytest.fixture(scope="session")
def mongo_client(mongodb_uri: str) -> Iterator[MongoClient]:  # type: ignore[type-arg]
    client: MongoClient = MongoClient(mongodb_uri, serverSelectionTimeoutMS=10000)  # type: ignore[type-arg]
    yield client
    client.close()


@pytest.fixture(scope="session")
def settings() -> Settings:
    # The shared server does not relay events, so tests can read each resource's outbox (`_events`) as written;
    # the event-hub tests start their own delivering server (tests/api/test_event_hub*.py).
    return Settings(
        database_name=TEST_DATABASE,
        max_body_bytes=256 * 1024,
        validate_responses=False,
        deliver_events=False,
        # Orders stay where the tests put them; the orchestration tests start their own engine-running server.
        run_engine=False,
        allow_private_callbacks=True,
    )


@pytest.fixture(scope="session")
def server(settings: Settings, mongodb_uri: str) -> Iterator[ServerThread]:
    thread = ServerThread(create_app(settings, mongodb_uri)).start()
    yield thread
    thread.stop()


@pytest.fixture
def database(mongo_client: MongoClient):  # type: ignore[no-untyped-def, type-arg]
    """The test database, emptied before each test (documents only: indexes stay, as after a fresh start)."""
    db = mongo_client[TEST_DATABASE]
    for name in db.list_collection_names():
        db[name].delete_many({})
    return db


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


@pytest.fixture
def catalog_url(server: ServerThread, database) -> str:  # type: ignore[no-untyped-def]
    return server.url + CATALOG_BASE
