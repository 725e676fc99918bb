"""Fixtures of the event-hub tests: a second app that delivers events, and loopback listeners."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.delivering import DELIVERING_SETTINGS
from tests.listeners import Listener
from tests.support import ServerThread
from tmf_server.app import create_app


@pytest.fixture(scope="module")
def delivering_server(mongodb_uri: str) -> Iterator[ServerThread]:
    """A second app on the test database that relays and delivers events (the shared `server` does not)."""
    thread = ServerThread(create_app(DELIVERING_SETTINGS, mongodb_uri)).start()
    yield thread
    thread.stop()


@pytest.fixture
def delivering(delivering_server: ServerThread, database) -> str:  # type: ignore[no-untyped-def]
    """The delivering server's base URL, on a database emptied for this test."""
    return delivering_server.url


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running
