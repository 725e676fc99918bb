"""A test OSS that talks only TMF641 over HTTP: it reads service orders and PATCHes their progress, as a real
OSS would; the instant variant completes every new service order from a background thread."""

from __future__ import annotations

import threading
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
    """Completes every acknowledged service order it finds, polling TMF641 from a thread until stopped."""

    def __init__(self, base_url: str, interval: float = 0.05) -> None:
        super().__init__(base_url)
        self.interval = interval
        self.completed: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> InstantOss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                for order in self.service_orders("state=acknowledged"):
                    self.complete(order["id"])
                    self.completed.add(order["id"])
            except (requests.RequestException, AssertionError):
                continue  # the server restarting under the test; the next round retries
