"""TMF622 productOrder lifecycle through real HTTP and the real database: lifecycle-checked PATCH, state roll-up from
items, cancelProductOrder, delete as a tombstone, and the TMF events recorded in each order's outbox."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from orchestration.store import PlanRepository
from orchestration.tasks import Plan, PlanState
from tests.api.test_product_ordering import (
    BASE_PATH,
    CANCELLATIONS,
    JSON_PATCH,
    MERGE_PATCH,
    ORDERS,
    TIMEOUT,
    all_items,
    assert_conforms,
    assert_tmf_error,
    assert_valid_path,
    cancellation_error,
    create_order,
    event_types,
    get_order,
    item_states,
    list_orders,
    move_items,
    parse_instant,
    patch_order,
    patched,
    state_path,
    stored_events,
    stored_order,
)
from tests.payloads import BUNDLE_ITEM_ID, SIM_ITEM_IDS, family_plan_order
from tmf_common.write_guard import AtomicServerGuard

ALL_ITEMS = (BUNDLE_ITEM_ID, *SIM_ITEM_IDS)


@pytest.fixture
def product_ordering_url(server, database) -> str:  # type: ignore[no-untyped-def]
    return server.url + BASE_PATH


def in_progress_order(http: requests.Session, url: str) -> dict[str, Any]:
    order = create_order(http, url)
    order = move_items(http, url, order, {BUNDLE_ITEM_ID: "inProgress"})
    assert order["state"] == "inProgress"
    return order


def finish(http: requests.Session, url: str, outcome: dict[str, str]) -> dict[str, Any]:
    """An order whose items went inProgress and then to the given final states."""
    order = create_order(http, url)
    order = move_items(http, url, order, dict.fromkeys(outcome, "inProgress"))
    return move_items(http, url, order, outcome)


def completed_order(http: requests.Session, url: str) -> dict[str, Any]:
    order = finish(http, url, dict.fromkeys(ALL_ITEMS, "completed"))
    assert order["state"] == "completed"
    return order


def cancelled_order(http: requests.Session, url: str) -> dict[str, Any]:
    order = create_order(http, url)
    task = request_cancellation(http, url, order["id"])
    assert task.json()["state"] == "done", task.text
    cancelled = get_order(http, url, order["id"])
    assert cancelled["state"] == "cancelled"
    return cancelled


def request_cancellation(http: requests.Session, url: str, order_id: str, **extra: Any) -> requests.Response:
    response = http.post(f"{url}/cancelProductOrder", json={"productOrder": {"id": order_id}, **extra}, timeout=TIMEOUT)
    if response.status_code == 201:
        assert_conforms("CancelProductOrder", response.json())
    return response


# ----------------------------------------------------------------------------------------------- attribute changes


def test_patch_changes_attributes_of_an_open_order_and_records_the_event(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    response = patch_order(
        http, product_ordering_url, order["id"], {"description": "Updated by care", "priority": "2"}, "application/json"
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["description"] == "Updated by care"
    assert body["priority"] == "2"
    assert body["state"] == "acknowledged"
    assert response.headers["ETag"].strip('W/"') == "2"
    assert get_order(http, product_ordering_url, order["id"]) == body
    events = stored_events(database, order["id"])
    assert event_types(events) == ["ProductOrderCreateEvent", "ProductOrderAttributeValueChangeEvent"]
    change = events[1]
    assert change["fieldPath"] == "description,priority"
    assert change["resource"]["description"] == "Updated by care"
    assert change["resource"]["id"] == order["id"]
    assert isinstance(change["eventId"], str) and change["eventId"] != events[0]["eventId"]
    parse_instant(change["eventTime"])


@pytest.mark.parametrize("final", ["completed", "cancelled"])
def test_final_order_is_read_only_except_note(product_ordering_url, http, database, final):
    order = (
        completed_order(http, product_ordering_url)
        if final == "completed"
        else cancelled_order(http, product_ordering_url)
    )
    revision = stored_order(database, order["id"])["_rev"]

    for change in ({"description": "too late"}, {"priority": "0"}, {"relatedParty": []}):
        (attribute,) = change
        error = assert_tmf_error(patch_order(http, product_ordering_url, order["id"], change), 409)
        assert attribute in error["message"] and final in error["message"], error
    assert stored_order(database, order["id"])["_rev"] == revision

    note = {"text": "Customer called to say thanks", "author": "care-agent-7"}
    noted = patched(
        http, product_ordering_url, order["id"], [{"op": "add", "path": "/note/-", "value": note}], JSON_PATCH
    )
    assert noted["note"][-1] == note
    assert noted["state"] == final
    assert event_types(stored_events(database, order["id"]))[-1] == "ProductOrderAttributeValueChangeEvent"


@pytest.mark.parametrize("attribute", ["orderDate", "completionDate", "id", "href"])
def test_server_set_attributes_are_never_patchable(product_ordering_url, http, database, attribute):
    order = create_order(http, product_ordering_url)
    value = "2030-01-01T00:00:00.000Z" if attribute.endswith("Date") else "changed"

    error = assert_tmf_error(patch_order(http, product_ordering_url, order["id"], {attribute: value}), 400)

    assert attribute in error["message"]
    assert stored_order(database, order["id"])["_rev"] == 1


def test_order_date_is_not_patchable_in_a_final_state_either(product_ordering_url, http):
    order = completed_order(http, product_ordering_url)
    error = assert_tmf_error(
        patch_order(http, product_ordering_url, order["id"], {"orderDate": "2030-01-01T00:00:00.000Z"}), 400
    )
    assert "orderDate" in error["message"]


def test_repeating_unchanged_read_only_values_is_not_a_change(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    body = patched(http, product_ordering_url, order["id"], {"orderDate": order["orderDate"], "id": order["id"]})
    assert body == order
    assert stored_order(database, order["id"])["_rev"] == 1


# ----------------------------------------------------------------------------------------------- state changes


@pytest.mark.parametrize(
    ("setup", "target"),
    [
        ("acknowledged", "held"),
        ("acknowledged", "completed"),
        ("acknowledged", "partial"),
        ("inProgress", "acknowledged"),
        ("completed", "inProgress"),
        ("cancelled", "acknowledged"),
    ],
)
def test_forbidden_state_change_is_409_naming_both_states(product_ordering_url, http, database, setup, target):
    url = product_ordering_url
    order = {
        "acknowledged": lambda: create_order(http, url),
        "inProgress": lambda: in_progress_order(http, url),
        "completed": lambda: completed_order(http, url),
        "cancelled": lambda: cancelled_order(http, url),
    }[setup]()
    revision = stored_order(database, order["id"])["_rev"]

    error = assert_tmf_error(patch_order(http, url, order["id"], {"state": target}), 409)

    assert f"'{setup}'" in error["message"] and f"'{target}'" in error["message"], error["message"]
    assert stored_order(database, order["id"])["_rev"] == revision
    assert get_order(http, url, order["id"])["state"] == setup


@pytest.mark.parametrize("target", ["assessingCancellation", "pendingCancellation"])
def test_cancellation_states_cannot_be_reached_by_patch(product_ordering_url, http, database, target):
    order = in_progress_order(http, product_ordering_url)
    error = assert_tmf_error(patch_order(http, product_ordering_url, order["id"], {"state": target}), 409)
    assert target in error["message"]
    assert get_order(http, product_ordering_url, order["id"])["state"] == "inProgress"


@pytest.mark.parametrize("content_type", ["application/json", MERGE_PATCH, JSON_PATCH])
def test_unknown_state_is_400_and_changes_nothing(product_ordering_url, http, database, content_type):
    order = create_order(http, product_ordering_url)
    body: Any = {"state": "shipped", "description": "must not be applied"}
    if content_type == JSON_PATCH:
        body = [
            {"op": "replace", "path": "/description", "value": "must not be applied"},
            {"op": "replace", "path": "/state", "value": "shipped"},
        ]

    assert_tmf_error(patch_order(http, product_ordering_url, order["id"], body, content_type), 400)

    document = stored_order(database, order["id"])
    assert document["_rev"] == 1
    assert document["state"] == "acknowledged"
    assert document["description"] == order["description"]
    assert event_types(document["_events"]) == ["ProductOrderCreateEvent"]


def test_unknown_item_state_is_400(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    response = patch_order(
        http,
        product_ordering_url,
        order["id"],
        [{"op": "replace", "path": "/productOrderItem/1/state", "value": "x"}],
        JSON_PATCH,
    )
    assert_tmf_error(response, 400)
    assert stored_order(database, order["id"])["_rev"] == 1


def test_forbidden_item_state_change_is_409(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    response = patch_order(
        http,
        product_ordering_url,
        order["id"],
        [{"op": "replace", "path": "/productOrderItem/1/state", "value": "completed"}],
        JSON_PATCH,
    )
    error = assert_tmf_error(response, 409)
    assert "'acknowledged'" in error["message"] and "'completed'" in error["message"]
    assert stored_order(database, order["id"])["_rev"] == 1


def test_an_item_starting_moves_an_acknowledged_order_to_in_progress(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    body = move_items(http, product_ordering_url, order, {SIM_ITEM_IDS[1]: "inProgress"})

    assert body["state"] == "inProgress"
    assert item_states(body) == {**dict.fromkeys(ALL_ITEMS, "acknowledged"), SIM_ITEM_IDS[1]: "inProgress"}
    assert "completionDate" not in body
    events = stored_events(database, order["id"])
    assert state_path(events) == ["acknowledged", "inProgress"]
    assert event_types(events)[1:] == ["ProductOrderStateChangeEvent", "ProductOrderAttributeValueChangeEvent"]
    assert events[1]["fieldPath"] == "state"
    assert events[1]["resource"]["state"] == "inProgress"
    assert events[2]["fieldPath"] == "productOrderItem"
    assert item_states(events[2]["resource"])[SIM_ITEM_IDS[1]] == "inProgress"


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (dict.fromkeys(ALL_ITEMS, "completed"), "completed"),
        ({**dict.fromkeys(ALL_ITEMS, "completed"), SIM_ITEM_IDS[2]: "failed"}, "partial"),
        (dict.fromkeys(ALL_ITEMS, "failed"), "failed"),
    ],
    ids=["all-completed", "some-failed", "all-failed"],
)
def test_order_state_rolls_up_from_final_item_states(product_ordering_url, http, database, outcome, expected):
    order = create_order(http, product_ordering_url)
    order = move_items(http, product_ordering_url, order, dict.fromkeys(ALL_ITEMS, "inProgress"))
    assert order["state"] == "inProgress"
    last = ALL_ITEMS[-1]
    order = move_items(http, product_ordering_url, order, {k: v for k, v in outcome.items() if k != last})
    assert order["state"] == "inProgress", "the order must wait for its last item"
    assert "completionDate" not in order

    body = move_items(http, product_ordering_url, order, {last: outcome[last]})

    assert body["state"] == expected
    assert item_states(body) == outcome
    completion = parse_instant(body["completionDate"])
    assert completion >= parse_instant(body["orderDate"])
    assert state_path(stored_events(database, order["id"])) == ["acknowledged", "inProgress", expected]
    assert get_order(http, product_ordering_url, order["id"]) == body


@pytest.mark.parametrize("paused", ["held", "pending"])
def test_items_finishing_on_a_paused_order_record_only_allowed_moves(product_ordering_url, http, database, paused):
    """The last item completes while the order is held (or pending): the order may not jump held -> completed.

    roll_up_steps gives (inProgress, completed) for this case, promising "every move is a visible state change
    with its own event"; the outbox must show a path the productOrder lifecycle allows.
    """
    url = product_ordering_url
    order = create_order(http, url)
    order = move_items(http, url, order, dict.fromkeys(ALL_ITEMS, "inProgress"))
    order = patched(http, url, order["id"], {"state": paused})
    assert order["state"] == paused

    order = move_items(http, url, order, dict.fromkeys(ALL_ITEMS, "completed"))

    assert order["state"] == "completed"
    parse_instant(order["completionDate"])
    path = state_path(stored_events(database, order["id"]))
    assert path[:3] == ["acknowledged", "inProgress", paused]
    assert path[-1] == "completed"
    assert_valid_path(path)


def test_no_change_items_do_not_hold_the_order_back(product_ordering_url, http):
    items = [
        {"id": "1", "action": "add", "productOffering": {"id": "po-extra-sim"}},
        {"id": "2", "action": "noChange", "product": {"id": "existing-line-1"}},
    ]
    order = create_order(http, product_ordering_url, {"productOrderItem": items})
    order = move_items(http, product_ordering_url, order, {"1": "inProgress"})
    order = move_items(http, product_ordering_url, order, {"1": "completed"})

    assert order["state"] == "completed"
    assert item_states(order) == {"1": "completed", "2": "acknowledged"}


def test_order_cannot_be_set_completed_while_items_are_not(product_ordering_url, http, database):
    order = in_progress_order(http, product_ordering_url)
    revision = stored_order(database, order["id"])["_rev"]

    error = assert_tmf_error(patch_order(http, product_ordering_url, order["id"], {"state": "completed"}), 409)

    assert "completed" in error["message"]
    assert stored_order(database, order["id"])["_rev"] == revision
    assert get_order(http, product_ordering_url, order["id"])["state"] == "inProgress"


def test_explicit_allowed_moves_are_applied(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    for state in ("inProgress", "held", "inProgress", "pending", "inProgress"):
        order = patched(http, product_ordering_url, order["id"], {"state": state})
        assert order["state"] == state
    assert state_path(stored_events(database, order["id"])) == [
        "acknowledged",
        "inProgress",
        "held",
        "inProgress",
        "pending",
        "inProgress",
    ]


def test_items_cannot_be_added_or_removed_by_patch(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    added = [{"op": "add", "path": "/productOrderItem/-", "value": {"id": "5", "action": "add"}}]
    assert_tmf_error(patch_order(http, product_ordering_url, order["id"], added, JSON_PATCH), 400)
    removed = [{"op": "remove", "path": "/productOrderItem/3"}]
    assert_tmf_error(patch_order(http, product_ordering_url, order["id"], removed, JSON_PATCH), 400)
    assert stored_order(database, order["id"])["_rev"] == 1


# ----------------------------------------------------------------------------------------------- cancellation


def test_cancelling_an_acknowledged_order_cancels_it_and_its_items(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    response = request_cancellation(http, product_ordering_url, order["id"], cancellationReason="Found a better deal")

    assert response.status_code == 201, response.text
    task = response.json()
    assert response.headers["Location"] == task["href"]
    assert task["href"] == f"{product_ordering_url}/cancelProductOrder/{task['id']}"
    assert task["state"] == "done"
    assert task["productOrder"]["id"] == order["id"]
    assert task["@type"] == "CancelProductOrder"
    assert "errorMessage" not in task
    effective = parse_instant(task["effectiveCancellationDate"])

    cancelled = get_order(http, product_ordering_url, order["id"])
    assert cancelled["state"] == "cancelled"
    assert parse_instant(cancelled["cancellationDate"]) <= effective
    assert cancelled["cancellationReason"] == "Found a better deal"
    assert set(item_states(cancelled).values()) == {"cancelled"}

    events = stored_events(database, order["id"])
    assert state_path(events) == ["acknowledged", "assessingCancellation", "pendingCancellation", "cancelled"]
    assert_valid_path(state_path(events))
    final_event = [e for e in events if e["eventType"] == "ProductOrderStateChangeEvent"][-1]
    assert set(item_states(final_event["resource"]).values()) == {"cancelled"}

    fetched = http.get(task["href"], timeout=TIMEOUT)
    assert fetched.status_code == 200
    assert fetched.json() == task
    task_events = stored_events(database, task["id"], CANCELLATIONS)
    assert event_types(task_events)[0] == "CancelProductOrderCreateEvent"
    assert [e["resource"]["state"] for e in task_events if e["eventType"] == "CancelProductOrderStateChangeEvent"] == [
        "inProgress",
        "done",
    ]


def test_cancelling_an_order_in_progress_without_service_orders_cancels_it(product_ordering_url, http, database):
    """Nothing to unwind (no fulfilment plan created any service order): the cancellation completes at once."""
    order = in_progress_order(http, product_ordering_url)

    response = request_cancellation(http, product_ordering_url, order["id"])

    assert response.status_code == 201, response.text
    task = response.json()
    assert task["state"] == "done", task
    after = get_order(http, product_ordering_url, order["id"])
    assert after["state"] == "cancelled"
    assert set(item_states(after).values()) == {"cancelled"}
    path = state_path(stored_events(database, order["id"]))
    assert path == ["acknowledged", "inProgress", "assessingCancellation", "pendingCancellation", "cancelled"]
    assert_valid_path(path)


def test_cancelling_an_order_whose_fulfilment_completed_is_refused_and_the_order_goes_back(
    product_ordering_url, http, database
):
    """The engine refuses once the plan completed, even if the order itself has not caught up yet."""
    order = in_progress_order(http, product_ordering_url)
    states_before = item_states(order)
    now = "2030-01-01T00:00:00.000Z"
    PlanRepository(database, AtomicServerGuard()).insert(
        Plan(id=order["id"], state=PlanState.COMPLETED, tasks=(), created_at=now, updated_at=now)
    )

    response = request_cancellation(http, product_ordering_url, order["id"])

    assert response.status_code == 201, response.text
    task = response.json()
    assert task["state"] == "terminatedWithError"
    assert "effectiveCancellationDate" not in task
    assert "completed" in cancellation_error(task)["message"]
    after = get_order(http, product_ordering_url, order["id"])
    assert after["state"] == "inProgress"
    assert item_states(after) == states_before
    assert "cancellationDate" not in after
    path = state_path(stored_events(database, order["id"]))
    assert path == ["acknowledged", "inProgress", "assessingCancellation", "inProgress"]
    assert_valid_path(path)
    assert stored_order(database, order["id"]).get("_cancellation") is None


def test_cancelling_a_completed_order_is_refused_and_changes_nothing(product_ordering_url, http, database):
    order = completed_order(http, product_ordering_url)
    revision = stored_order(database, order["id"])["_rev"]

    response = request_cancellation(http, product_ordering_url, order["id"])

    assert response.status_code == 201, response.text
    task = response.json()
    assert task["state"] == "terminatedWithError"
    assert "completed" in cancellation_error(task)["message"]
    assert stored_order(database, order["id"])["_rev"] == revision
    assert get_order(http, product_ordering_url, order["id"]) == order


def test_cancelling_a_missing_order_is_400_and_records_nothing(product_ordering_url, http, database):
    response = request_cancellation(http, product_ordering_url, str(uuid.uuid4()))
    assert_tmf_error(response, 400)
    assert database[CANCELLATIONS].count_documents({}) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"productOrder": {}},
        {"productOrder": "not-a-ref"},
        {"productOrder": {"id": "x"}, "state": "done"},
        {"productOrder": {"id": "x"}, "id": "mine"},
        {"productOrder": {"id": "x"}, "effectiveCancellationDate": "2030-01-01T00:00:00Z"},
    ],
)
def test_bad_cancellation_requests_are_400(product_ordering_url, http, database, body):
    order = create_order(http, product_ordering_url)
    if isinstance(body.get("productOrder"), dict) and body["productOrder"].get("id") == "x":
        body = {**body, "productOrder": {"id": order["id"]}}
    assert_tmf_error(http.post(f"{product_ordering_url}/cancelProductOrder", json=body, timeout=TIMEOUT), 400)
    assert database[CANCELLATIONS].count_documents({}) == 0
    assert stored_order(database, order["id"])["_rev"] == 1


def test_second_cancellation_of_a_cancelled_order_is_refused(product_ordering_url, http, database):
    order = cancelled_order(http, product_ordering_url)
    revision = stored_order(database, order["id"])["_rev"]
    response = request_cancellation(http, product_ordering_url, order["id"])
    assert response.status_code == 201
    assert response.json()["state"] == "terminatedWithError"
    assert stored_order(database, order["id"])["_rev"] == revision


def test_cancellation_requests_are_listed_and_filtered(product_ordering_url, http):
    done = request_cancellation(http, product_ordering_url, create_order(http, product_ordering_url)["id"]).json()
    refused = request_cancellation(http, product_ordering_url, completed_order(http, product_ordering_url)["id"]).json()

    response = http.get(f"{product_ordering_url}/cancelProductOrder", timeout=TIMEOUT)
    assert response.status_code == 200
    assert {task["id"] for task in response.json()} == {done["id"], refused["id"]}
    assert response.headers["X-Total-Count"] == "2"
    for task in response.json():
        assert_conforms("CancelProductOrder", task)
    filtered = http.get(f"{product_ordering_url}/cancelProductOrder?state=terminatedWithError", timeout=TIMEOUT)
    assert [task["id"] for task in filtered.json()] == [refused["id"]]
    by_order = http.get(
        f"{product_ordering_url}/cancelProductOrder?productOrder.id={done['productOrder']['id']}", timeout=TIMEOUT
    )
    assert [task["id"] for task in by_order.json()] == [done["id"]]
    assert_tmf_error(http.get(f"{product_ordering_url}/cancelProductOrder/{uuid.uuid4()}", timeout=TIMEOUT), 404)


# ----------------------------------------------------------------------------------------------- delete


@pytest.mark.parametrize("state", ["acknowledged", "inProgress"])
def test_delete_of_an_open_order_is_409(product_ordering_url, http, database, state):
    order = (
        create_order(http, product_ordering_url)
        if state == "acknowledged"
        else in_progress_order(http, product_ordering_url)
    )
    error = assert_tmf_error(http.delete(f"{product_ordering_url}/productOrder/{order['id']}", timeout=TIMEOUT), 409)
    assert state in error["message"]
    assert "_deleted" not in stored_order(database, order["id"])
    assert get_order(http, product_ordering_url, order["id"])["state"] == state


@pytest.mark.parametrize("final", ["completed", "partial", "failed", "cancelled"])
def test_delete_of_a_final_order_keeps_a_tombstone_with_its_events(product_ordering_url, http, database, final):
    url = product_ordering_url
    if final == "cancelled":
        order = cancelled_order(http, url)
    else:
        outcome = {"completed": "completed", "partial": "completed", "failed": "failed"}[final]
        states = dict.fromkeys(ALL_ITEMS, outcome)
        if final == "partial":
            states[SIM_ITEM_IDS[0]] = "failed"
        order = finish(http, url, states)
    assert order["state"] == final
    other = create_order(http, url, family_plan_order(externalId="EXT-other"))

    response = http.delete(f"{url}/productOrder/{order['id']}", timeout=TIMEOUT)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_tmf_error(http.get(f"{url}/productOrder/{order['id']}", timeout=TIMEOUT), 404)
    assert [listed["id"] for listed in list_orders(http, url)] == [other["id"]]
    assert list_orders(http, url, f"state={final}") == []
    document = stored_order(database, order["id"])
    parse_instant(document["_deleted"])
    delete_event = document["_events"][-1]
    assert delete_event["eventType"] == "ProductOrderDeleteEvent"
    assert delete_event["resource"]["id"] == order["id"]
    assert delete_event["resource"]["state"] == final
    assert event_types(document["_events"])[0] == "ProductOrderCreateEvent"
    assert_tmf_error(http.delete(f"{url}/productOrder/{order['id']}", timeout=TIMEOUT), 404)
    assert_tmf_error(patch_order(http, url, order["id"], {"note": []}), 404)


def test_delete_of_a_missing_order_is_404(product_ordering_url, http):
    assert_tmf_error(http.delete(f"{product_ordering_url}/productOrder/{uuid.uuid4()}", timeout=TIMEOUT), 404)


def test_idempotency_key_of_a_deleted_order_is_not_reused(product_ordering_url, http, database):
    key = f"checkout-{uuid.uuid4()}"
    order = create_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": key})
    order = move_items(http, product_ordering_url, order, dict.fromkeys(ALL_ITEMS, "inProgress"))
    move_items(http, product_ordering_url, order, dict.fromkeys(ALL_ITEMS, "failed"))
    assert http.delete(f"{product_ordering_url}/productOrder/{order['id']}", timeout=TIMEOUT).status_code == 204

    again = http.post(
        f"{product_ordering_url}/productOrder", json=family_plan_order(), headers={"Idempotency-Key": key}, timeout=10
    )
    assert_tmf_error(again, 409)
    assert database[ORDERS].count_documents({}) == 1


# ----------------------------------------------------------------------------------------------- events


def test_each_change_records_its_event_in_the_same_document(product_ordering_url, http, database):
    url = product_ordering_url
    order = create_order(http, url)
    order = patched(http, url, order["id"], {"notificationContact": "doe.family@example.com"})
    order = move_items(http, url, order, dict.fromkeys(ALL_ITEMS, "inProgress"))
    order = move_items(http, url, order, dict.fromkeys(ALL_ITEMS, "completed"))
    assert http.delete(f"{url}/productOrder/{order['id']}", timeout=TIMEOUT).status_code == 204

    events = stored_events(database, order["id"])
    assert event_types(events) == [
        "ProductOrderCreateEvent",
        "ProductOrderAttributeValueChangeEvent",  # notificationContact
        "ProductOrderStateChangeEvent",  # acknowledged -> inProgress
        "ProductOrderAttributeValueChangeEvent",  # item states
        "ProductOrderStateChangeEvent",  # inProgress -> completed
        "ProductOrderAttributeValueChangeEvent",  # item states, completionDate
        "ProductOrderDeleteEvent",
    ]
    assert len({event["eventId"] for event in events}) == len(events)
    times = [parse_instant(event["eventTime"]) for event in events]
    assert times == sorted(times)
    assert events[0]["resource"]["state"] == "acknowledged"
    assert events[0]["resource"]["href"] == order["href"]
    assert events[1]["fieldPath"] == "notificationContact"
    assert events[1]["resource"]["notificationContact"] == "doe.family@example.com"
    assert events[2]["fieldPath"] == "state"
    assert events[3]["fieldPath"] == "productOrderItem"
    assert set(events[5]["fieldPath"].split(",")) == {"completionDate", "productOrderItem"}
    assert events[5]["resource"]["completionDate"] == order["completionDate"]
    for event in events:
        assert event["resource"]["id"] == order["id"]
        assert {item["id"] for item in all_items(event["resource"])} == set(ALL_ITEMS)
        assert_conforms("ProductOrder", event["resource"])


def test_a_refused_change_records_no_event(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    assert_tmf_error(patch_order(http, product_ordering_url, order["id"], {"state": "completed"}), 409)
    assert_tmf_error(patch_order(http, product_ordering_url, order["id"], {"orderDate": "2030-01-01T00:00:00Z"}), 400)
    assert_tmf_error(http.delete(f"{product_ordering_url}/productOrder/{order['id']}", timeout=TIMEOUT), 409)
    assert event_types(stored_events(database, order["id"])) == ["ProductOrderCreateEvent"]
