"""Handlers of the plan extension API: translate, call the engine, render."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from orchestration.store import StoredPlan
from tmf_common.http import current_request, json_response, services

BASE_PATH = "/operations/orchestration/v1"
PRODUCT_ORDER_PATH = "/tmf-api/productOrderingManagement/v4/productOrder"


def _view(stored: StoredPlan) -> dict[str, Any]:
    """The plan as the API shows it, with each service order's current state read from TMF641."""
    base = current_request(services().settings.public_url).base_url
    plan = stored.plan
    document = plan.to_document()
    service_orders = services().service_ordering.orders.repository
    created = []
    for reference in plan.service_orders():
        found = service_orders.get(reference["id"], {"state": 1})
        created.append({**reference, "state": None if found is None else found.body.get("state")})
    tasks = [{key: value for key, value in task.items() if key != "payload"} for task in document["tasks"]]
    return {
        "id": plan.id,
        "href": f"{base}{BASE_PATH}/plan/{plan.id}",
        "productOrder": {
            "id": plan.id,
            "href": f"{base}{PRODUCT_ORDER_PATH}/{plan.id}",
            "@referredType": "ProductOrder",
        },
        **{key: value for key, value in document.items() if key != "tasks"},
        "tasks": tasks,
        "serviceOrders": created,
    }


def list_plan(state: str | None = None, offset: int | None = None, limit: int | None = None) -> Response:
    settings = services().settings
    page = min(limit if limit is not None else settings.default_page_limit, settings.max_page_limit)
    plans = services().engine.plans.list(state, page, offset or 0)
    views = [_view(stored) for stored in plans]
    return json_response(views, headers={"X-Result-Count": str(len(views))})


def retrieve_plan(id: str) -> Response:
    return json_response(_view(services().engine.plan(id)))


def resume_plan(id: str, body: dict[str, Any] | None = None) -> Response:
    note = (body or {}).get("note")
    return json_response(_view(services().engine.resume(id, note)))
