"""Operator handlers for webhook deliveries: list them, list dead letters, replay."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tmf_common.delivery import DELIVERIES, DeliveryState, replay_dead_letters
from tmf_common.errors import Conflict, NotFound
from tmf_common.http import current_request, json_response, list_response, services
from tmf_common.hub import SUBSCRIPTIONS
from tmf_common.query import ListQuery
from tmf_common.repository import ResourceRepository
from tmf_common.resource_service import list_query


def _query(fields: str | None, sort: str | None, offset: int | None, limit: int | None) -> ListQuery:
    settings = services().settings
    return list_query(settings, current_request(settings.public_url), fields, sort, offset, limit)


def _deliveries() -> ResourceRepository:
    return ResourceRepository(services().database[DELIVERIES])


def list_delivery(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    items, total = _deliveries().list(_query(fields, sort, offset, limit))
    return list_response(items, total)


def list_dead_letter(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    query = _query(fields, sort, offset, limit).scoped({"state": DeliveryState.DEAD_LETTER.value})
    items, total = _deliveries().list(query)
    return list_response(items, total)


def replay_subscription(id: str) -> Response:
    database = services().database
    if database[SUBSCRIPTIONS].find_one({"_id": id}, {"_id": 1}) is None:
        raise NotFound(f"No hub subscription with id '{id}'")
    return json_response({"replayed": replay_dead_letters(database, services().hub.repository.guard, id)})


def replay_delivery(id: str) -> Response:
    database = services().database
    delivery: dict[str, Any] | None = database[DELIVERIES].find_one({"_id": id}, {"subscriptionId": 1, "state": 1})
    if delivery is None:
        raise NotFound(f"No delivery with id '{id}'")
    if delivery["state"] != DeliveryState.DEAD_LETTER:
        raise Conflict(f"Delivery '{id}' is '{delivery['state']}'; only a dead letter can be replayed")
    return json_response(
        {"replayed": replay_dead_letters(database, services().hub.repository.guard, delivery["subscriptionId"], id)}
    )
