"""A test OSS that talks only TMF641 over HTTP: it reads service orders and PATCHes their progress, as a real
OSS would; the instant variant completes every new service order from a background thread."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

SERVICE_ORDERING = "/tmf-api/serviceOrdering/v4"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
TIMEOUT = 10


class TestOss:
    __test__ = False  # not a pytest test class

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.url = base_url + SERVICE_ORDERING
        self.http = session or requests.Session()

    def service_orders(self, query: str = "", limit: int = 1000) -> list[dict[str, Any]]:
        separator = "&" if query else ""
        response = self.http.get(f"{self.url}/serviceOrder?{query}{separator}limit={limit}", timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        orders: list[dict[str, Any]] = response.json()
        return orders

    def for_product_order(self, product_order_id: str) -> list[dict[str, Any]]:
        return self.service_orders(f"externalReference.id={product_order_id}")

    def get(self, service_order_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.url}/serviceOrder/{service_order_id}", timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()
        return order

    def start(self, service_order_id: str) -> dict[str, Any]:
        return self._items_to(service_order_id, "inProgress")

    def complete(self, service_order_id: str) -> dict[str, Any]:
        self.start(service_order_id)
        return self._items_to(service_order_id, "completed")

    def fail(self, service_order_id: str, message: str) -> dict[str, Any]:
        self.start(service_order_id)
        error = [
            {
                "code": "OSS-FAILURE",
                "reason": "Provisioning failed",
                "message": message,
                "@type": "ServiceOrderErrorMessage",
            }
        ]
        return self._items_to(service_order_id, "failed", {"errorMessage": error})

    def _items_to(self, service_order_id: str, state: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        current = self.get(service_order_id)
        items = [{**item, "state": state} for item in current["serviceOrderItem"]]
        response = self.http.patch(
            f"{self.url}/serviceOrder/{service_order_id}",
            json={"serviceOrderItem": items, **(extra or {})},
            headers=MERGE_PATCH,
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()
        return order


class InstantOss(TestOss):
    """Completes every service order as soon as TMF641 announces it: a hub subscription to
    ServiceOrderCreateEvent on a loopback listener, plus a slow sweep of acknowledged orders for anything created
    before it subscribed or announced while it was not listening (a server restarted under the test)."""

    def __init__(self, base_url: str, interval: float = 1.0) -> None:
        super().__init__(base_url)
        self.interval = interval
        self.completed: set[str] = set()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
            threading.Thread(target=self._complete_announced, daemon=True),
            threading.Thread(target=self._sweep, daemon=True),
        ]
        self._subscription: str | None = None

    def __enter__(self) -> InstantOss:
        for thread in self._threads:
            thread.start()
        callback = f"http://127.0.0.1:{self._server.server_address[1]}/oss"
        response = self.http.post(
            f"{self.url}/hub",
            json={"callback": callback, "query": "eventType=ServiceOrderCreateEvent"},
            timeout=TIMEOUT,
        )
        assert response.status_code == 201, response.text
        self._subscription = response.json()["id"]
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._queue.put(None)
        with contextlib.suppress(requests.RequestException):
            if self._subscription is not None:
                self.http.delete(f"{self.url}/hub/{self._subscription}", timeout=TIMEOUT)
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        announced = self._queue

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                service_order = (body.get("event") or {}).get("serviceOrder") or {}
                if service_order.get("id"):
                    announced.put(str(service_order["id"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def _complete(self, service_order_id: str) -> None:
        if service_order_id in self.completed:
            return
        try:
            state = self.get(service_order_id)["state"]
            if state == "acknowledged":
                self.complete(service_order_id)
            elif state == "inProgress":  # started before an interruption
                self._items_to(service_order_id, "completed")
            self.completed.add(service_order_id)
        except (requests.RequestException, AssertionError):
            pass  # the server restarting under the test, or completed meanwhile: the sweep looks again

    def _complete_announced(self) -> None:
        while (service_order_id := self._queue.get()) is not None:
            self._complete(service_order_id)

    def _sweep(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                for order in self.service_orders("state=acknowledged"):
                    self._complete(order["id"])
            except (requests.RequestException, AssertionError):
                continue
