"""A real HTTP listener for webhook tests: a ThreadingHTTPServer on a free loopback port, recording every request
and answering with a programmable sequence of statuses (and an optional delay per request)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import wait_for

HEALTHY_STATUS = 201


@dataclass(frozen=True)
class Received:
    """One request as the listener saw it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any  # the parsed body, None when it is not JSON
    received_at: float  # time.monotonic() when the request line arrived
    answered_at: float  # time.monotonic() when the answer was about to be sent (after any delay)
    status: int

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def event_id(self) -> str | None:
        return self.json.get("eventId") if isinstance(self.json, dict) else None

    @property
    def event_type(self) -> str | None:
        return self.json.get("eventType") if isinstance(self.json, dict) else None


class Listener:
    """Records every request; answers the next queued statuses first, then `status` for good.

        with Listener() as listener:                 # 201 to everything
            listener.respond(500, 500, 500)          # the next three requests get 500, then 201 again
            listener.respond(status=500)             # 500 for every request from now on
            listener.respond(status=410)             # "gone": the hub should drop the subscription
            listener.respond(delay=2.0)              # answer each request two seconds late
            listener.heal()                          # 201 from now on, without delay

    Each request is handled on its own thread, so a delayed answer does not hold up the next request.
    """

    def __init__(self, status: int = HEALTHY_STATUS, first: Iterable[int] = (), delay: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._queued: deque[int] = deque(first)
        self._status = status
        self._delay = delay
        self._received: list[Received] = []
        self._busy = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    # ------------------------------------------------------------------------------------------------ behaviour

    def respond(self, *first: int, status: int | None = None, delay: float | None = None) -> None:
        """Answer the next requests with `first` in turn, then `status` (unchanged when None) for every request."""
        with self._lock:
            self._queued = deque(first)
            if status is not None:
                self._status = status
            if delay is not None:
                self._delay = delay

    def heal(self) -> None:
        """201 for every request from now on, without delay."""
        self.respond(status=HEALTHY_STATUS, delay=0.0)

    def _next_answer(self) -> tuple[int, float]:
        with self._lock:
            status = self._queued.popleft() if self._queued else self._status
            self._busy += 1
            return status, self._delay

    def _record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    def _answered(self) -> None:
        with self._lock:
            self._busy -= 1

    # ------------------------------------------------------------------------------------------------ what came

    @property
    def received(self) -> list[Received]:
        """Every request answered (or being answered) so far, in the order they arrived."""
        with self._lock:
            return sorted(self._received, key=lambda request: request.received_at)

    @property
    def busy(self) -> int:
        """Requests being handled right now (received, not yet answered)."""
        with self._lock:
            return self._busy

    def accepted(self) -> list[Received]:
        """The requests answered 2xx, i.e. the events the listener took, in the order it took them."""
        return [request for request in self.received if request.accepted]

    def accepted_events(self) -> list[dict[str, Any]]:
        return [request.json for request in self.accepted()]

    def wait_for_accepted(self, count: int, timeout: float = 15.0) -> list[Received]:
        """At least `count` accepted requests; fails with what did arrive when the deadline passes."""
        wait_for(lambda: len(self.accepted()) >= count, timeout=timeout, what=f"{count} accepted events")
        return self.accepted()

    # ------------------------------------------------------------------------------------------------ server

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                received_at = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                status, delay = listener._next_answer()
                try:
                    if delay:
                        time.sleep(delay)
                    # Recorded before the answer goes out: whoever sees the answer can rely on the record.
                    listener._record(
                        Received(
                            method=self.command,
                            path=self.path,
                            headers={name.lower(): value for name, value in self.headers.items()},
                            body=body,
                            json=parsed,
                            received_at=received_at,
                            answered_at=time.monotonic(),
                            status=status,
                        )
                    )
                    answer = b'{"ok":true}' if 200 <= status < 300 else b'{"ok":false}'
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    self.wfile.flush()
                finally:
                    listener._answered()

            do_POST = _handle
            do_PUT = _handle
            do_GET = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler
