"""TMF622 productOrder under concurrent writers (real threads, real HTTP, real database): no lost update, no state the
lifecycle forbids, an order state that always matches the roll-up of its items."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.api.test_product_ordering import (
    BASE_PATH,
    JSON_PATCH,
    MERGE_PATCH,
    ORDERS,
    TIMEOUT,
    assert_conforms,
    assert_valid_path,
    create_order,
    event_types,
    get_order,
    item_state_patch,
    item_states,
    patch_order,
    state_path,
    stored_events,
    stored_order,
)
from tests.payloads import BUNDLE_ITEM_ID, SIM_ITEM_IDS, family_plan_order
from tmf622_product_ordering.domain.rollup import roll_up_order_state
from tmf622_product_ordering.domain.states import (
    ProductOrderItemState,
    ProductOrderState,
)
from tmf_common.repository import ResourceRepository
from tmf_common.write_guard import guard_for

THREADS = 8
# Lost updates show up only when writes really overlap; several rounds make a race that exists hard to miss.
ROUNDS = 3
ALL_ITEMS = (BUNDLE_ITEM_ID, *SIM_ITEM_IDS)


@pytest.fixture
def product_ordering_url(server, database) -> str:  # type: ignore[no-untyped-def]
    return server.url + BASE_PATH


def run_together(work: list[Callable[[requests.Session], Any]]) -> list[Any]:
    """Run each callable in its own thread with its own connection, released together by a barrier."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with requests.Session() as session:
                barrier.wait(timeout=TIMEOUT)
                results[index] = work[index](session)
        except BaseException as error:  # an assertion in a worker fails the test below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker thread did not finish"
    assert not failures, failures
    return results


def rolled_up(order: dict[str, Any]) -> str:
    """The state the order's items call for, computed by the domain's own roll-up from the order's start."""
    states = [ProductOrderItemState(state) for state in item_states(order).values()]
    return str(roll_up_order_state(states, ProductOrderState.IN_PROGRESS))


def expected_state(order: dict[str, Any]) -> str:
    """With only item progress reported (no explicit order state): acknowledged until an item starts, the roll-up
    once every item is final, inProgress in between."""
    states = set(item_states(order).values())
    if states == {"acknowledged"}:
        return "acknowledged"
    if states <= {"completed", "failed"}:
        return rolled_up(order)
    return "inProgress"


def test_revision_compare_and_set_on_the_order_collection_has_one_winner(product_ordering_url, http, database):
    """The primitive every PATCH relies on, run on the real database with the write guard the service picks for it:
    of the writers that read the same revision, exactly one may write the next one (replace_if_revision).

    FerretDB 1.24 alone fails this (its conditional update_one reads and writes in separate steps); the service
    relies on tmf_common.write_guard to make it hold."""
    order = create_order(http, product_ordering_url, family_plan_order(note=[]))
    repository = ResourceRepository(database[ORDERS], guard_for(database))
    won: list[int] = []
    lock = threading.Lock()

    def append(index: int) -> Callable[[requests.Session], None]:
        def run(_session: requests.Session) -> None:
            # Retry until a deadline, not a fixed count: this test is about who wins, not how fast.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                before = repository.get_with_internal(order["id"])
                assert before is not None
                after = {**before.body, "note": [*before.body["note"], {"text": f"writer {index}"}]}
                if repository.replace_if_revision(before, after, []) is not None:
                    with lock:
                        won.append(before.revision)
                    return
            raise AssertionError(f"writer {index} never won")

        return run

    run_together([append(index) for index in range(THREADS)])

    assert sorted(won) == list(range(1, 1 + THREADS)), f"revisions won by more than one writer: {sorted(won)}"
    document = stored_order(database, order["id"])
    assert document["_rev"] == 1 + THREADS
    assert sorted(note["text"] for note in document["note"]) == sorted(f"writer {i}" for i in range(THREADS))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_note_appends_lose_nothing(product_ordering_url, http, database, round_):
    order = create_order(http, product_ordering_url, family_plan_order(note=[]))
    notes = [
        {"id": f"n{index}", "author": f"agent-{index}", "text": f"Call {index} logged"} for index in range(THREADS)
    ]

    def append(note: dict[str, Any]) -> Callable[[requests.Session], requests.Response]:
        operation = [{"op": "add", "path": "/note/-", "value": note}]
        return lambda session: patch_order(session, product_ordering_url, order["id"], operation, JSON_PATCH)

    responses = run_together([append(note) for note in notes])

    assert [response.status_code for response in responses] == [200] * THREADS, [r.text for r in responses]
    # Every 200 answered a different revision: two writers never both won the same compare-and-set.
    assert sorted(int(response.headers["ETag"].strip('W/"')) for response in responses) == list(range(2, 2 + THREADS))
    final = get_order(http, product_ordering_url, order["id"])
    assert sorted(final["note"], key=lambda note: note["id"]) == notes
    document = stored_order(database, order["id"])
    assert document["_rev"] == 1 + THREADS
    etag = http.get(f"{product_ordering_url}/productOrder/{order['id']}", timeout=TIMEOUT).headers["ETag"]
    assert etag.strip('W/"') == str(1 + THREADS)
    changes = [event for event in document["_events"] if event["eventType"] == "ProductOrderAttributeValueChangeEvent"]
    assert len(changes) == THREADS
    assert {event["fieldPath"] for event in changes} == {"note"}
    assert sorted(len(event["resource"]["note"]) for event in changes) == list(range(1, THREADS + 1))
    assert final["state"] == "acknowledged"


def test_concurrent_merge_patches_of_different_attributes_lose_nothing(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    changes = [
        {"description": "changed by 0"},
        {"priority": "0"},
        {"category": "business"},
        {"notificationContact": "doe@example.org"},
        {"externalId": "PORTAL-2030-999"},
        {"requestedStartDate": "2030-04-01T08:00:00.000Z"},
        {"requestedCompletionDate": "2030-04-09T08:00:00.000Z"},
        {"billingAccount": {"id": "ba-new", "name": "Doe household 2", "@referredType": "BillingAccount"}},
    ]

    def apply(change: dict[str, Any]) -> Callable[[requests.Session], requests.Response]:
        return lambda session: patch_order(session, product_ordering_url, order["id"], change, MERGE_PATCH)

    responses = run_together([apply(change) for change in changes])

    assert [response.status_code for response in responses] == [200] * THREADS, [r.text for r in responses]
    final = get_order(http, product_ordering_url, order["id"])
    for change in changes:
        for attribute, value in change.items():
            assert final[attribute] == value, attribute
    assert stored_order(database, order["id"])["_rev"] == 1 + THREADS


def test_concurrent_patches_with_the_same_if_match_let_exactly_one_win(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)

    def apply(index: int) -> Callable[[requests.Session], requests.Response]:
        change = {"description": f"writer {index}"}
        return lambda session: patch_order(
            session, product_ordering_url, order["id"], change, MERGE_PATCH, **{"If-Match": '"1"'}
        )

    responses = run_together([apply(index) for index in range(THREADS)])

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (THREADS - 1), [r.text for r in responses]
    (winner,) = (response for response in responses if response.status_code == 200)
    for loser in (response for response in responses if response.status_code == 412):
        assert loser.json()["@type"] == "Error"
    final = get_order(http, product_ordering_url, order["id"])
    assert final["description"] == winner.json()["description"]
    assert stored_order(database, order["id"])["_rev"] == 2


@pytest.mark.parametrize(
    "outcome",
    [
        dict.fromkeys(ALL_ITEMS, "completed"),
        {**dict.fromkeys(ALL_ITEMS, "completed"), SIM_ITEM_IDS[1]: "failed"},
        dict.fromkeys(ALL_ITEMS, "failed"),
    ],
    ids=["completed", "partial", "failed"],
)
def test_items_progressing_concurrently_roll_up_consistently(product_ordering_url, http, database, outcome):
    """Two fulfilment workers per item (start, then finish) all at once: every write sees a consistent order."""
    order = create_order(http, product_ordering_url)
    seen: list[dict[str, Any]] = []
    refusals: list[str] = []
    lock = threading.Lock()

    def progress(item_id: str) -> Callable[[requests.Session], list[int]]:
        def run(session: requests.Session) -> list[int]:
            statuses = []
            for state in ("inProgress", outcome[item_id]):
                response = patch_order(
                    session, product_ordering_url, order["id"], item_state_patch(order, {item_id: state}), JSON_PATCH
                )
                statuses.append(response.status_code)
                if response.status_code != 200:
                    with lock:
                        refusals.append(f"{item_id} -> {state}: {response.text}")
                if response.status_code == 200:
                    with lock:
                        seen.append(response.json())
            return statuses

        return run

    def note(index: int) -> Callable[[requests.Session], int]:
        def run(session: requests.Session) -> int:
            operation = [{"op": "add", "path": "/note/-", "value": {"text": f"progress note {index}"}}]
            return patch_order(session, product_ordering_url, order["id"], operation, JSON_PATCH).status_code

        return run

    work: list[Callable[[requests.Session], Any]] = [progress(item_id) for item_id in ALL_ITEMS]
    work += [note(index) for index in range(THREADS - len(work))]
    results = run_together(work)

    assert results[: len(ALL_ITEMS)] == [[200, 200]] * len(ALL_ITEMS), refusals
    final = get_order(http, product_ordering_url, order["id"])
    assert item_states(final) == outcome
    expected = rolled_up(final)
    assert final["state"] == expected
    assert "completionDate" in final
    for body in seen:
        assert body["state"] == expected_state(body), body
    document = stored_order(database, order["id"])
    path = state_path(document["_events"])
    assert path == ["acknowledged", "inProgress", expected]
    assert_valid_path(path)
    # Notes written after the order became final are allowed; the others are too. None may be lost.
    assert len(final["note"]) == 1 + sum(1 for status in results[len(ALL_ITEMS) :] if status == 200)
    for event in document["_events"]:
        assert event["resource"]["state"] == expected_state(event["resource"]), event
        assert_conforms("ProductOrder", event["resource"])


def test_cancellation_racing_an_item_start_ends_in_one_consistent_outcome(product_ordering_url, http, database):
    """Customer cancels while fulfilment starts an item (no service order exists yet, so nothing is unwound): the
    cancellation wins either way; the item start lands before it (200) or is refused (409), never a mix."""
    starts = []
    for _ in range(6):
        order = create_order(http, product_ordering_url)

        def cancel(session: requests.Session, order_id: str = order["id"]) -> requests.Response:
            return session.post(
                f"{product_ordering_url}/cancelProductOrder", json={"productOrder": {"id": order_id}}, timeout=TIMEOUT
            )

        def start(session: requests.Session, current: dict[str, Any] = order) -> requests.Response:
            operation = item_state_patch(current, {SIM_ITEM_IDS[0]: "inProgress"})
            return patch_order(session, product_ordering_url, current["id"], operation, JSON_PATCH)

        cancelled, started = run_together([cancel, start])

        assert cancelled.status_code == 201, cancelled.text
        task = cancelled.json()
        assert_conforms("CancelProductOrder", task)
        assert task["state"] == "done", task
        assert "effectiveCancellationDate" in task
        assert started.status_code in (200, 409), started.text
        final = get_order(http, product_ordering_url, order["id"])
        assert final["state"] == "cancelled"
        assert set(item_states(final).values()) == {"cancelled"}
        path = state_path(stored_events(database, order["id"]))
        assert_valid_path(path)
        expected = ["acknowledged", "assessingCancellation", "pendingCancellation", "cancelled"]
        assert path == ([*expected[:1], "inProgress", *expected[1:]] if started.status_code == 200 else expected)
        starts.append(started.status_code)
    assert set(starts) <= {200, 409}


def test_concurrent_cancellations_of_one_order_cancel_it_once(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)

    def cancel(session: requests.Session) -> requests.Response:
        return session.post(
            f"{product_ordering_url}/cancelProductOrder", json={"productOrder": {"id": order["id"]}}, timeout=TIMEOUT
        )

    responses = run_together([cancel] * 4)

    assert [response.status_code for response in responses] == [201] * 4, [r.text for r in responses]
    states = sorted(response.json()["state"] for response in responses)
    assert states == ["done"] + ["terminatedWithError"] * 3, states
    final = get_order(http, product_ordering_url, order["id"])
    assert final["state"] == "cancelled"
    events = stored_events(database, order["id"])
    assert state_path(events) == ["acknowledged", "assessingCancellation", "pendingCancellation", "cancelled"]
    assert event_types(events).count("ProductOrderStateChangeEvent") == 3
