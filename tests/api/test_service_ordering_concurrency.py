"""Several OSS workers racing on the same serviceOrder: conditional writes, no lost update."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import requests

from tests.api.test_service_ordering import (
    JSON_PATCH,
    SERVICE_ORDERING,
    TIMEOUT,
    create_order,
    get_order,
    item_state_ops,
    move_items,
    order_body,
    patch_order,
    recorded_events,
    stored,
)


@pytest.fixture
def service_ordering_url(server, database) -> str:
    return server.url + SERVICE_ORDERING


T = TypeVar("T")


def race(workers: list[Callable[[requests.Session], T]]) -> list[T]:
    """Run every worker in its own thread with its own HTTP session, all released at the same moment."""
    start = threading.Barrier(len(workers))
    sessions = [requests.Session() for _ in workers]

    def run(index: int) -> T:
        start.wait(timeout=TIMEOUT)
        return workers[index](sessions[index])

    try:
        with ThreadPoolExecutor(max_workers=len(workers)) as pool:
            return list(pool.map(run, range(len(workers))))
    finally:
        for session in sessions:
            session.close()


def test_two_oss_workers_starting_the_same_order_with_one_etag(service_ordering_url, http, database):
    order = create_order(http, service_ordering_url, order_body("1", "2"))
    etag = http.get(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT).headers["ETag"]

    def start(session: requests.Session) -> requests.Response:
        return patch_order(session, service_ordering_url, order["id"], {"state": "inProgress"}, if_match=etag)

    responses = race([start, start])

    assert sorted(response.status_code for response in responses) == [200, 412], [r.text for r in responses]
    loser = next(response for response in responses if response.status_code == 412).json()
    assert (loser["code"], loser["status"], loser["@type"]) == ("PRECONDITION_FAILED", "412", "Error")
    assert get_order(http, service_ordering_url, order["id"])["state"] == "inProgress"
    state_changes = [state for kind, state, _ in recorded_events(database, order["id"]) if "StateChange" in kind]
    assert state_changes == ["inProgress"]


def test_eight_oss_workers_each_completing_one_item_lose_no_update(service_ordering_url, http, database):
    item_ids = tuple(str(n) for n in range(1, 9))
    order = create_order(http, service_ordering_url, order_body(*item_ids))
    order = move_items(http, service_ordering_url, order["id"], dict.fromkeys(item_ids, "inProgress"))
    revision_before = stored(database, order["id"])["_rev"]

    def completer(item_id: str) -> Callable[[requests.Session], requests.Response]:
        position = int(item_id) - 1
        service: dict[str, Any] = {
            "id": f"svc-{item_id}",
            "state": "active",
            "serviceSpecification": {"id": "mobile-sim-cfs"},
            "serviceCharacteristic": [{"name": "MSISDN", "value": f"44770090000{item_id}"}],
        }
        operations = [
            *item_state_ops(order, {item_id: "completed"}),
            {"op": "replace", "path": f"/serviceOrderItem/{position}/service", "value": service},
        ]

        def complete(session: requests.Session) -> requests.Response:
            return patch_order(session, service_ordering_url, order["id"], operations, content_type=JSON_PATCH)

        return complete

    responses = race([completer(item_id) for item_id in item_ids])

    assert [response.status_code for response in responses] == [200] * 8, [r.text for r in responses]
    final = get_order(http, service_ordering_url, order["id"])
    assert final["state"] == "completed"
    assert "completionDate" in final
    assert [item["state"] for item in final["serviceOrderItem"]] == ["completed"] * 8
    assert [item["service"]["id"] for item in final["serviceOrderItem"]] == [f"svc-{n}" for n in item_ids]
    # Every worker's write landed as its own revision; the order completed exactly once.
    assert stored(database, order["id"])["_rev"] == revision_before + 8
    events = recorded_events(database, order["id"])
    assert [state for kind, state, _ in events if "StateChange" in kind] == ["inProgress", "completed"]
    item_changes = [
        field for kind, _, field in events if "AttributeValueChange" in kind and "serviceOrderItem" in field
    ]
    assert len(item_changes) == 1 + 8  # items started together, then one change per completed item
    assert sum(1 for response in responses if response.json()["state"] == "completed") == 1
