"""TMF641 serviceOrder PATCH and DELETE through HTTP: the OSS's progress reports, item roll-up, the lifecycle
table, refused changes that leave the stored document untouched, and the events in the document's outbox."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.test_service_ordering import (
    JSON_PATCH,
    MERGE_PATCH,
    ORDERS,
    SERVICE_ORDERING,
    TIMEOUT,
    assert_tmf_error,
    create_order,
    get_order,
    item_state_ops,
    move_items,
    ok,
    ok_list,
    order_body,
    order_in_state,
    patch_order,
    recorded_events,
    sim_item,
    stored,
    with_items,
)


@pytest.fixture
def service_ordering_url(server, database) -> str:
    return server.url + SERVICE_ORDERING


CREATED = ("ServiceOrderCreateEvent", "acknowledged", None)


def sim_service(number: int, state: str = "active") -> dict[str, Any]:
    """The service the OSS reports for an item it fulfilled: its inventory id, state and characteristics."""
    return {
        "id": f"svc-sim-{number}",
        "href": f"https://inventory.example.com/service/svc-sim-{number}",
        "state": state,
        "serviceSpecification": {"id": "mobile-sim-cfs", "name": "Mobile SIM CFS"},
        "serviceType": "mobile",
        "serviceCharacteristic": [
            {"name": "ICCID", "valueType": "string", "value": f"894400000000000000{number}"},
            {"name": "MSISDN", "valueType": "string", "value": f"4477009000{number}"},
        ],
    }


# ---------------------------------------------------------------------------------------------------------------
# The OSS works an order through the API alone


def test_oss_client_runs_the_whole_flow(service_ordering_url, http, database):
    url = service_ordering_url
    oldest = create_order(http, url, order_body("1", "2", "3", externalId="SO-OLD"))
    create_order(http, url, order_body("1", externalId="SO-NEW"))

    # 1. Pick the oldest acknowledged order.
    queue = ok_list(
        http.get(f"{url}/serviceOrder", params={"state": "acknowledged", "sort": "orderDate"}, timeout=TIMEOUT), 2
    )
    assert queue[0]["id"] == oldest["id"]
    order_id = oldest["id"]
    read = http.get(f"{url}/serviceOrder/{order_id}", timeout=TIMEOUT)
    etag = read.headers["ETag"]

    # 2. Start it, guarded by the ETag it read.
    started_response = patch_order(http, url, order_id, {"state": "inProgress"}, if_match=etag)
    started = ok(started_response)
    assert started["state"] == "inProgress"
    assert started["startDate"] >= started["orderDate"]
    assert [item["state"] for item in started["serviceOrderItem"]] == ["acknowledged"] * 3
    assert started_response.headers["ETag"] != etag
    assert "completionDate" not in started

    # 3. Work begins on every item; a milestone is reported.
    working = ok(
        patch_order(
            http,
            url,
            order_id,
            {
                **with_items(started, dict.fromkeys(("1", "2", "3"), "inProgress")),
                "milestone": [{"id": "M1", "name": "SIMs reserved", "milestoneDate": "2025-03-01T10:00:00Z"}],
            },
            if_match=started_response.headers["ETag"],
        )
    )
    assert working["state"] == "inProgress"
    assert [item["state"] for item in working["serviceOrderItem"]] == ["inProgress"] * 3
    assert working["startDate"] == started["startDate"]

    # 4. Items complete one by one with the service each created; the order completes with the last one.
    after_one = ok(patch_order(http, url, order_id, with_items(working, {"1": "completed"}, {"1": sim_service(1)})))
    assert after_one["state"] == "inProgress"
    assert [item["state"] for item in after_one["serviceOrderItem"]] == ["completed", "inProgress", "inProgress"]
    done = ok(
        patch_order(
            http,
            url,
            order_id,
            with_items(after_one, {"2": "completed", "3": "completed"}, {"2": sim_service(2), "3": sim_service(3)}),
        )
    )
    assert done["state"] == "completed"
    assert done["completionDate"] >= done["startDate"]
    assert [item["state"] for item in done["serviceOrderItem"]] == ["completed"] * 3
    assert [item["service"] for item in done["serviceOrderItem"]] == [sim_service(n) for n in (1, 2, 3)]
    assert done["milestone"][0]["name"] == "SIMs reserved"
    assert get_order(http, url, order_id) == done

    assert recorded_events(database, order_id) == [
        CREATED,
        ("ServiceOrderStateChangeEvent", "inProgress", "state"),
        ("ServiceOrderAttributeValueChangeEvent", "inProgress", "startDate"),
        ("ServiceOrderAttributeValueChangeEvent", "inProgress", "milestone,serviceOrderItem"),
        ("ServiceOrderAttributeValueChangeEvent", "inProgress", "serviceOrderItem"),
        ("ServiceOrderStateChangeEvent", "completed", "state"),
        ("ServiceOrderAttributeValueChangeEvent", "completed", "completionDate,serviceOrderItem"),
    ]
    remaining = ok_list(http.get(f"{url}/serviceOrder", params={"state": "acknowledged"}, timeout=TIMEOUT), 1)
    assert remaining[0]["externalId"] == "SO-NEW"


def test_first_item_started_moves_an_acknowledged_order_to_in_progress(service_ordering_url, http, database):
    order = create_order(http, service_ordering_url, order_body("1", "2"))
    moved = move_items(http, service_ordering_url, order["id"], {"1": "inProgress"})
    assert moved["state"] == "inProgress"
    assert "startDate" in moved
    assert [item["state"] for item in moved["serviceOrderItem"]] == ["inProgress", "acknowledged"]
    assert recorded_events(database, order["id"]) == [
        CREATED,
        ("ServiceOrderStateChangeEvent", "inProgress", "state"),
        ("ServiceOrderAttributeValueChangeEvent", "inProgress", "serviceOrderItem,startDate"),
    ]


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ({"1": "completed", "2": "completed"}, "completed"),
        ({"1": "completed", "2": "failed"}, "partial"),
        ({"1": "failed", "2": "failed"}, "failed"),
    ],
)
def test_order_state_is_rolled_up_from_the_items(service_ordering_url, http, database, outcomes, expected):
    order = order_in_state(http, service_ordering_url, "inProgress")
    first = move_items(http, service_ordering_url, order["id"], {"1": outcomes["1"]})
    assert first["state"] == "inProgress"
    assert "completionDate" not in first
    last = move_items(http, service_ordering_url, order["id"], {"2": outcomes["2"]})
    assert last["state"] == expected
    assert [item["state"] for item in last["serviceOrderItem"]] == [outcomes["1"], outcomes["2"]]
    assert "completionDate" in last
    state_changes = [state for kind, state, _ in recorded_events(database, order["id"]) if "StateChange" in kind]
    assert state_changes == ["inProgress", expected]


def test_explicit_final_state_agreeing_with_the_items_is_accepted(service_ordering_url, http):
    order = order_in_state(http, service_ordering_url, "inProgress")
    patch = {**with_items(order, {"1": "completed", "2": "failed"}), "state": "partial"}
    assert ok(patch_order(http, service_ordering_url, order["id"], patch))["state"] == "partial"


def test_roll_up_from_held_records_every_move_of_the_table(service_ordering_url, http, database):
    """held cannot move to completed; the roll-up goes held -> inProgress -> completed, and both moves are
    state changes a listener must see (roll_up_steps: "every move is a visible state change with its own event")."""
    order = order_in_state(http, service_ordering_url, "held")
    done = move_items(http, service_ordering_url, order["id"], {"1": "completed", "2": "completed"})
    assert done["state"] == "completed"
    state_changes = [state for kind, state, _ in recorded_events(database, order["id"]) if "StateChange" in kind]
    assert state_changes == ["inProgress", "held", "inProgress", "completed"]


def test_oss_reports_error_jeopardy_and_milestones(service_ordering_url, http, database):
    order = order_in_state(http, service_ordering_url, "inProgress")
    url, order_id = service_ordering_url, order["id"]
    jeopardy = {"id": "J1", "name": "SIM stock low", "jeopardyType": "Hazard", "alertDate": "2025-03-01T10:00:00Z"}
    milestone = {"id": "M1", "name": "SIM 1 activated", "milestoneDate": "2025-03-01T11:00:00Z"}
    reported = ok(patch_order(http, url, order_id, {"jeopardyAlert": [jeopardy], "milestone": [milestone]}))
    assert reported["jeopardyAlert"] == [{**jeopardy, "alertDate": "2025-03-01T10:00:00.000Z"}]

    second = {"id": "M2", "name": "SIM 2 activated", "serviceOrderItem": [{"itemId": "2"}]}
    appended = ok(
        patch_order(
            http, url, order_id, [{"op": "add", "path": "/milestone/-", "value": second}], content_type=JSON_PATCH
        )
    )
    assert [entry["id"] for entry in appended["milestone"]] == ["M1", "M2"]

    item_error = {"code": "HLR-17", "reason": "HLR refused the IMSI", "message": "retry with another SIM"}
    failed_item = with_items(appended, {"2": "failed"})
    failed_item["serviceOrderItem"][1]["errorMessage"] = [item_error]
    order_error = {"code": "PARTIAL", "reason": "One SIM failed", "serviceOrderItem": [{"itemId": "2"}]}
    failed = ok(patch_order(http, url, order_id, {**failed_item, "errorMessage": [order_error]}))
    assert failed["serviceOrderItem"][1]["errorMessage"] == [item_error]
    assert failed["errorMessage"] == [order_error]
    assert failed["state"] == "inProgress"  # item 1 is still in progress

    assert [field for _, _, field in recorded_events(database, order_id)[-3:]] == [
        "jeopardyAlert,milestone",
        "milestone",
        "errorMessage,serviceOrderItem",
    ]


def test_plain_attribute_change_is_an_attribute_value_change_event(service_ordering_url, http, database):
    order = create_order(http, service_ordering_url)
    changed = ok(patch_order(http, service_ordering_url, order["id"], {"description": "urgent", "priority": "0"}))
    assert (changed["description"], changed["priority"]) == ("urgent", "0")
    assert recorded_events(database, order["id"]) == [
        CREATED,
        ("ServiceOrderAttributeValueChangeEvent", "acknowledged", "description,priority"),
    ]


def test_patch_repeating_current_values_changes_nothing(service_ordering_url, http, database):
    order = order_in_state(http, service_ordering_url, "inProgress")
    before = stored(database, order["id"])
    same = {key: order[key] for key in ("state", "serviceOrderItem", "priority")}
    assert ok(patch_order(http, service_ordering_url, order["id"], same)) == order
    assert stored(database, order["id"]) == before


def test_item_content_may_change_while_acknowledged(service_ordering_url, http):
    order = create_order(http, service_ordering_url, order_body("1", "2"))
    patch = copy.deepcopy({"serviceOrderItem": order["serviceOrderItem"]})
    patch["serviceOrderItem"][0]["quantity"] = 2
    changed = ok(patch_order(http, service_ordering_url, order["id"], patch))
    assert changed["serviceOrderItem"][0]["quantity"] == 2


# ---------------------------------------------------------------------------------------------------------------
# Refused changes: nothing is written


def _items_patch(order: dict[str, Any], change) -> dict[str, Any]:
    items = copy.deepcopy(order["serviceOrderItem"])
    change(items)
    return {"serviceOrderItem": items}


def _set(item_index: int, key: str, value: Any):
    def change(items: list[dict[str, Any]]) -> None:
        items[item_index][key] = value

    return change


CONFLICTS: dict[str, tuple[str, Any, str | None]] = {
    # case: (order state, patch builder, code)
    "acknowledged order to completed": ("acknowledged", lambda o: {"state": "completed"}, "FORBIDDEN_TRANSITION"),
    "acknowledged order to held": ("acknowledged", lambda o: {"state": "held"}, "FORBIDDEN_TRANSITION"),
    "item acknowledged to completed": (
        "acknowledged",
        lambda o: with_items(o, {"1": "completed"}),
        "FORBIDDEN_TRANSITION",
    ),
    "item back from inProgress to acknowledged": (
        "inProgress",
        lambda o: with_items(o, {"1": "acknowledged"}),
        "FORBIDDEN_TRANSITION",
    ),
    "order completed while items are in progress": ("inProgress", lambda o: {"state": "completed"}, None),
    "order failed while items roll up to partial": (
        "inProgress",
        lambda o: {**with_items(o, {"1": "completed", "2": "failed"}), "state": "failed"},
        "STATE_CONTRADICTS_ITEMS",
    ),
    "assessingCancellation by PATCH": ("inProgress", lambda o: {"state": "assessingCancellation"}, None),
    "pendingCancellation by PATCH": ("acknowledged", lambda o: {"state": "pendingCancellation"}, None),
    "completed order back to inProgress": ("completed", lambda o: {"state": "inProgress"}, None),
    "completed order item changed": ("completed", lambda o: with_items(o, {"1": "failed"}), None),
    "completed order description changed": ("completed", lambda o: {"description": "late edit"}, None),
    "failed order to completed": ("failed", lambda o: {"state": "completed"}, None),
    "cancelled order to inProgress": ("cancelled", lambda o: {"state": "inProgress"}, None),
    "item quantity after the order started": (
        "inProgress",
        lambda o: _items_patch(o, _set(0, "quantity", 3)),
        "NOT_PATCHABLE_NOW",
    ),
    "item appointment after the order started": (
        "inProgress",
        lambda o: _items_patch(o, _set(0, "appointment", {"id": "appt-1"})),
        "NOT_PATCHABLE_NOW",
    ),
    "item relationship after the order started": (
        "inProgress",
        lambda o: _items_patch(
            o,
            _set(1, "serviceOrderItemRelationship", [{"relationshipType": "dependsOn", "orderItem": {"itemId": "1"}}]),
        ),
        "NOT_PATCHABLE_NOW",
    ),
    "item content while held": ("held", lambda o: _items_patch(o, _set(0, "quantity", 3)), "NOT_PATCHABLE_NOW"),
}


@pytest.mark.parametrize("case", sorted(CONFLICTS))
def test_patch_breaking_the_lifecycle_is_409_and_changes_nothing(service_ordering_url, http, database, case):
    state, build, code = CONFLICTS[case]
    order = order_in_state(http, service_ordering_url, state)
    before = stored(database, order["id"])
    response = patch_order(http, service_ordering_url, order["id"], build(order))
    assert_tmf_error(response, 409, code)
    assert stored(database, order["id"]) == before
    assert get_order(http, service_ordering_url, order["id"]) == order


BAD_PATCHES: dict[str, tuple[str, Any, str | None]] = {
    # case: (order state, (patch, content type), code or None)
    "unknown order state": ("acknowledged", ({"state": "shipped"}, "application/json"), None),
    "unknown order state (merge patch)": ("acknowledged", ({"state": "shipped"}, MERGE_PATCH), "UNKNOWN_STATE"),
    "unknown item state": ("inProgress", None, None),
    "unknown item state (json patch)": ("inProgress", "json-patch", "UNKNOWN_STATE"),
    "state as a number": ("acknowledged", ({"state": 3}, "application/json"), None),
    "priority as a number": ("acknowledged", ({"priority": 1}, "application/json"), None),
    "item added": ("acknowledged", "add", "ITEMS_FIXED"),
    "item added while in progress": ("inProgress", "add", "ITEMS_FIXED"),
    "item removed": ("acknowledged", "remove", "ITEMS_FIXED"),
    "item removed by json patch": (
        "inProgress",
        ([{"op": "remove", "path": "/serviceOrderItem/1"}], JSON_PATCH),
        "ITEMS_FIXED",
    ),
    "nested item added": ("acknowledged", "nest", "ITEMS_FIXED"),
    "item action changed": ("acknowledged", "action", None),
    "item action changed while in progress": ("inProgress", "action", None),
    "id changed": ("acknowledged", ({"id": "other"}, MERGE_PATCH), "READ_ONLY_ATTRIBUTE"),
    "href changed": ("acknowledged", ({"href": "https://elsewhere/so/1"}, MERGE_PATCH), "READ_ONLY_ATTRIBUTE"),
    "orderDate changed": ("acknowledged", ({"orderDate": "2020-01-01T00:00:00.000Z"}, MERGE_PATCH), None),
    "startDate changed": ("inProgress", ({"startDate": "2020-01-01T00:00:00.000Z"}, MERGE_PATCH), None),
    "category changed": ("acknowledged", ({"category": "fixed"}, MERGE_PATCH), "READ_ONLY_ATTRIBUTE"),
    "json patch test fails": (
        "acknowledged",
        (
            [
                {"op": "test", "path": "/state", "value": "inProgress"},
                {"op": "replace", "path": "/priority", "value": "0"},
            ],
            JSON_PATCH,
        ),
        "PATCH_TEST_FAILED",
    ),
    "json patch to a missing path": (
        "acknowledged",
        ([{"op": "replace", "path": "/serviceOrderItem/7/state", "value": "inProgress"}], JSON_PATCH),
        None,
    ),
}


def _bad_patch(order: dict[str, Any], spec: Any) -> tuple[Any, str]:
    if isinstance(spec, tuple):
        return spec
    items = copy.deepcopy(order["serviceOrderItem"])
    if spec is None:
        items[0]["state"] = "shipped"
        return {"serviceOrderItem": items}, "application/json"
    if spec == "json-patch":
        return item_state_ops(order, {"1": "shipped"}), JSON_PATCH
    if spec == "add":
        return {"serviceOrderItem": [*items, sim_item("3")]}, "application/json"
    if spec == "remove":
        return {"serviceOrderItem": items[:1]}, "application/json"
    if spec == "nest":
        items[0]["serviceOrderItem"] = [sim_item("1.1")]
        return {"serviceOrderItem": items}, "application/json"
    if spec == "action":
        items[0]["action"] = "modify"
        return {"serviceOrderItem": items}, "application/json"
    raise AssertionError(spec)


@pytest.mark.parametrize("case", sorted(BAD_PATCHES))
def test_bad_patch_is_400_and_changes_nothing(service_ordering_url, http, database, case):
    state, spec, code = BAD_PATCHES[case]
    order = order_in_state(http, service_ordering_url, state)
    before = stored(database, order["id"])
    patch, content_type = _bad_patch(order, spec)
    response = patch_order(http, service_ordering_url, order["id"], patch, content_type=content_type)
    assert_tmf_error(response, 400, code)
    assert stored(database, order["id"]) == before


def test_duplicate_item_id_cannot_be_slipped_in_by_patch(service_ordering_url, http, database):
    """A PATCH that repeats an existing item id adds an item: refused like any other added item."""
    order = create_order(http, service_ordering_url, order_body("1", "2"))
    before = stored(database, order["id"])
    items = copy.deepcopy(order["serviceOrderItem"])
    response = patch_order(http, service_ordering_url, order["id"], {"serviceOrderItem": [*items, items[1]]})
    assert_tmf_error(response, 400)
    assert stored(database, order["id"]) == before


def test_patch_cannot_create_a_relationship_to_a_missing_item(service_ordering_url, http, database):
    """The create-time rule (orderItem.itemId must exist in the order) holds for a PATCH while acknowledged."""
    order = create_order(http, service_ordering_url, order_body("1", "2"))
    before = stored(database, order["id"])
    dangling = [{"relationshipType": "dependsOn", "orderItem": {"itemId": "99"}}]
    response = patch_order(
        http, service_ordering_url, order["id"], _items_patch(order, _set(0, "serviceOrderItemRelationship", dangling))
    )
    assert_tmf_error(response, 400)
    assert stored(database, order["id"]) == before


def test_unsupported_patch_media_type_is_415(service_ordering_url, http, database):
    order = create_order(http, service_ordering_url)
    before = stored(database, order["id"])
    response = http.patch(
        f"{service_ordering_url}/serviceOrder/{order['id']}",
        data="state=inProgress",
        headers={"Content-Type": "text/plain"},
        timeout=TIMEOUT,
    )
    assert_tmf_error(response, 415)
    assert stored(database, order["id"]) == before


def test_patch_of_a_missing_order_is_404(service_ordering_url, http):
    assert_tmf_error(patch_order(http, service_ordering_url, "no-such-order", {"description": "x"}), 404)


def test_stale_if_match_is_412_and_changes_nothing(service_ordering_url, http, database):
    order = create_order(http, service_ordering_url)
    etag = http.get(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT).headers["ETag"]
    ok(patch_order(http, service_ordering_url, order["id"], {"description": "first"}, if_match=etag))
    before = stored(database, order["id"])
    stale = patch_order(http, service_ordering_url, order["id"], {"state": "inProgress"}, if_match=etag)
    assert_tmf_error(stale, 412)
    assert stored(database, order["id"]) == before


# ---------------------------------------------------------------------------------------------------------------
# DELETE: only final orders


@pytest.mark.parametrize("state", ["acknowledged", "inProgress", "held", "pending"])
def test_delete_of_an_open_order_is_409_and_changes_nothing(service_ordering_url, http, database, state):
    order = order_in_state(http, service_ordering_url, state)
    before = stored(database, order["id"])
    response = http.delete(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT)
    assert_tmf_error(response, 409, "NOT_FINAL")
    assert stored(database, order["id"]) == before
    assert get_order(http, service_ordering_url, order["id"]) == order


@pytest.mark.parametrize("state", ["completed", "failed", "partial", "cancelled", "rejected"])
def test_delete_of_a_final_order(service_ordering_url, http, database, state):
    order = order_in_state(http, service_ordering_url, state)
    response = http.delete(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_tmf_error(http.get(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT), 404)
    assert ok_list(http.get(f"{service_ordering_url}/serviceOrder", timeout=TIMEOUT), 0) == []
    assert recorded_events(database, order["id"])[-1] == ("ServiceOrderDeleteEvent", state, None)
    again = http.delete(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT)
    assert_tmf_error(again, 404)
    assert [kind for kind, _, _ in recorded_events(database, order["id"])].count("ServiceOrderDeleteEvent") == 1


def test_delete_with_stale_if_match_is_412(service_ordering_url, http, database):
    order = order_in_state(http, service_ordering_url, "completed")
    before = stored(database, order["id"])
    response = http.delete(
        f"{service_ordering_url}/serviceOrder/{order['id']}", headers={"If-Match": '"1"'}, timeout=TIMEOUT
    )
    assert_tmf_error(response, 412)
    assert stored(database, order["id"]) == before
    assert database[ORDERS].count_documents({"_id": order["id"], "_deleted": {"$exists": True}}) == 0
