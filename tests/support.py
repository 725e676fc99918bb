"""Test helpers: an in-process server on a loopback port and waiting on conditions with deadlines."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import requests
import uvicorn

from tmf_common.embedded_db import free_loopback_port

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = "condition") -> T:
    """Poll condition until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (requests.ConnectionError, OSError) as error:
            last = error
        if last and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}; last result: {last!r}")


class ServerThread:
    """uvicorn serving an ASGI app in a background thread, with its lifespan, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_loopback_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=30, what="the test server to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


CANONICAL_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def assert_tmf_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a TMF Error body with the given status (and code), and leaks no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("reason"), str) and body["reason"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert body["status"] == str(status), body
    assert body["@type"] == "Error", body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["code"] == code, body
    return body


def parse_instant(text: str) -> datetime:
    """A canonical service timestamp (UTC, milliseconds, Z) as a datetime."""
    assert CANONICAL_INSTANT.match(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
