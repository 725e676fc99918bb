"""TMF641 cancelServiceOrder through HTTP: the task runs on create, walks the order through its cancellation
states, and records every step in both documents' outboxes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_service_ordering import (
    SERVICE_ORDERING,
    TASKS,
    TIMEOUT,
    assert_tmf_error,
    create_order,
    document_counts,
    get_order,
    ok,
    ok_list,
    order_body,
    order_in_state,
    recorded_events,
    stored,
)


@pytest.fixture
def service_ordering_url(server, database) -> str:
    return server.url + SERVICE_ORDERING


TASK_CREATED = ("CancelServiceOrderCreateEvent", "accepted", None)


def request_cancellation(http, url: str, order_id: str, **extra: Any) -> dict[str, Any]:
    response = http.post(f"{url}/cancelServiceOrder", json={"serviceOrder": {"id": order_id}, **extra}, timeout=10)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    assert response.headers["Location"] == task["href"]
    assert task["href"] == f"{url}/cancelServiceOrder/{task['id']}"
    assert task["@type"] == "CancelServiceOrder"
    assert task["serviceOrder"]["id"] == order_id
    return task


def test_cancelling_an_acknowledged_order(service_ordering_url, http, database):
    order = create_order(http, service_ordering_url, order_body("1", "2"))
    task = request_cancellation(
        http,
        service_ordering_url,
        order["id"],
        cancellationReason="Customer withdrew the order",
        requestedCancellationDate="2025-03-01T08:00:00Z",
    )

    assert task["state"] == "done"
    assert task["effectiveCancellationDate"].endswith("Z")
    assert task["cancellationReason"] == "Customer withdrew the order"
    assert task["requestedCancellationDate"] == "2025-03-01T08:00:00.000Z"
    assert "errorMessage" not in task
    assert recorded_events(database, task["id"], TASKS) == [
        TASK_CREATED,
        ("CancelServiceOrderStateChangeEvent", "inProgress", "state"),
        ("CancelServiceOrderStateChangeEvent", "done", "state"),
    ]
    assert ok(http.get(f"{service_ordering_url}/cancelServiceOrder/{task['id']}", timeout=TIMEOUT)) == task

    cancelled = get_order(http, service_ordering_url, order["id"])
    assert cancelled["state"] == "cancelled"
    assert [item["state"] for item in cancelled["serviceOrderItem"]] == ["cancelled", "cancelled"]
    assert cancelled["cancellationReason"] == "Customer withdrew the order"
    assert cancelled["cancellationDate"] == cancelled["completionDate"]
    assert cancelled["cancellationDate"] <= task["effectiveCancellationDate"]
    states = [(kind, state) for kind, state, _ in recorded_events(database, order["id"]) if "StateChange" in kind]
    assert states == [
        ("ServiceOrderStateChangeEvent", "assessingCancellation"),
        ("ServiceOrderStateChangeEvent", "pendingCancellation"),
        ("ServiceOrderStateChangeEvent", "cancelled"),
    ]
    item_states_in_events = [
        [item["state"] for item in event["resource"]["serviceOrderItem"]]
        for event in stored(database, order["id"])["_events"]
    ]
    assert item_states_in_events[-1] == ["cancelled", "cancelled"]
    assert ["pendingCancellation", "pendingCancellation"] in item_states_in_events

    # The cancelled order is final: it may now be deleted.
    assert http.delete(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT).status_code == 204


def test_cancelling_an_order_in_progress_is_refused_and_leaves_it_as_it_was(service_ordering_url, http, database):
    order = order_in_state(http, service_ordering_url, "inProgress")
    task = request_cancellation(http, service_ordering_url, order["id"], cancellationReason="too slow")

    assert task["state"] == "terminatedWithError"
    assert "effectiveCancellationDate" not in task
    assert "started" in str(task["errorMessage"])
    assert recorded_events(database, task["id"], TASKS) == [
        TASK_CREATED,
        ("CancelServiceOrderStateChangeEvent", "inProgress", "state"),
        ("CancelServiceOrderStateChangeEvent", "terminatedWithError", "state"),
    ]
    assert get_order(http, service_ordering_url, order["id"]) == order
    states = [state for kind, state, _ in recorded_events(database, order["id"]) if "StateChange" in kind]
    assert states[-2:] == ["assessingCancellation", "inProgress"]  # assessed, denied, back where it was


def test_refused_cancellation_carries_one_error_message_object(service_ordering_url, http):
    """CancelServiceOrder.errorMessage is one ErrorMessage (official v4.1.0 definition and our YAML), not a list."""
    order = order_in_state(http, service_ordering_url, "inProgress")
    task = request_cancellation(http, service_ordering_url, order["id"])
    assert isinstance(task["errorMessage"], dict), task["errorMessage"]
    assert task["errorMessage"]["code"] and task["errorMessage"]["reason"]


@pytest.mark.parametrize("state", ["completed", "cancelled", "rejected"])
def test_cancelling_a_final_order_is_refused_and_writes_nothing_to_it(service_ordering_url, http, database, state):
    order = order_in_state(http, service_ordering_url, state)
    before = stored(database, order["id"])
    task = request_cancellation(http, service_ordering_url, order["id"])
    assert task["state"] == "terminatedWithError"
    assert state in str(task["errorMessage"])
    assert stored(database, order["id"]) == before


def test_cancellation_of_a_missing_order_is_400_and_nothing_is_stored(service_ordering_url, http, database):
    before = document_counts(database)
    response = http.post(
        f"{service_ordering_url}/cancelServiceOrder", json={"serviceOrder": {"id": "no-such-order"}}, timeout=TIMEOUT
    )
    assert_tmf_error(response, 400)
    assert "no-such-order" in response.json()["message"]
    assert document_counts(database) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"serviceOrder": {}},
        {"serviceOrder": {"id": 7}},
        {"serviceOrder": {"id": "ORDER"}, "state": "done"},
        {"serviceOrder": {"id": "ORDER"}, "id": "my-task"},
        {"serviceOrder": {"id": "ORDER"}, "effectiveCancellationDate": "2025-01-01T00:00:00Z"},
        {"serviceOrder": {"id": "ORDER"}, "errorMessage": {"code": "E", "reason": "r"}},
        {"serviceOrder": {"id": "ORDER"}, "requestedCancellationDate": "soon"},
    ],
    ids=lambda body: ",".join(sorted(body)) + ("" if "serviceOrder" not in body else f":{body['serviceOrder']}"),
)
def test_bad_cancellation_request_is_400_and_nothing_is_stored(service_ordering_url, http, database, body):
    order = create_order(http, service_ordering_url)
    if body.get("serviceOrder", {}).get("id") == "ORDER":
        body = {**body, "serviceOrder": {"id": order["id"]}}
    before = stored(database, order["id"])
    counts = document_counts(database)
    response = http.post(f"{service_ordering_url}/cancelServiceOrder", json=body, timeout=TIMEOUT)
    assert_tmf_error(response, 400)
    assert document_counts(database) == counts
    assert stored(database, order["id"]) == before


def test_second_cancellation_of_a_cancelled_order_ends_in_error(service_ordering_url, http):
    order = create_order(http, service_ordering_url)
    assert request_cancellation(http, service_ordering_url, order["id"])["state"] == "done"
    assert request_cancellation(http, service_ordering_url, order["id"])["state"] == "terminatedWithError"


def test_cancellation_tasks_are_listed_and_filtered(service_ordering_url, http):
    done = request_cancellation(http, service_ordering_url, create_order(http, service_ordering_url)["id"])
    order = order_in_state(http, service_ordering_url, "inProgress")
    refused = request_cancellation(http, service_ordering_url, order["id"])
    url = f"{service_ordering_url}/cancelServiceOrder"
    assert {task["id"] for task in ok_list(http.get(url, timeout=TIMEOUT), 2)} == {done["id"], refused["id"]}
    assert ok_list(http.get(url, params={"state": "done"}, timeout=TIMEOUT), 1) == [done]
    by_order = ok_list(http.get(url, params={"serviceOrder.id": order["id"]}, timeout=TIMEOUT), 1)
    assert [task["id"] for task in by_order] == [refused["id"]]
    assert_tmf_error(http.get(f"{url}/no-such-task", timeout=TIMEOUT), 404)
