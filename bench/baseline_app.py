"""The baseline: a bare Starlette app doing the same database insert and find, without validation or TMF logic."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from pymongo import MongoClient
from pymongo.database import Database
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_baseline_app(mongodb_uri: str, database_name: str) -> Starlette:
    database: Database[dict[str, Any]] = MongoClient(mongodb_uri)[database_name]

    def make_routes(collection_name: str, path: str) -> list[Route]:
        collection = database[collection_name]

        async def create(request: Request) -> Response:
            body: dict[str, Any] = orjson.loads(await request.body())
            resource_id = str(uuid.uuid4())
            document = {"_id": resource_id, **body, "href": f"http://bench{path}/{resource_id}"}
            await run_in_threadpool(collection.insert_one, document)
            document["id"] = document.pop("_id")
            return Response(orjson.dumps(document), status_code=201, media_type="application/json")

        async def list_(request: Request) -> Response:
            query: dict[str, Any] = dict(request.query_params)
            limit = int(query.pop("limit", "100"))
            # The same typed matching the service does for booleans, so both return the same page.
            query = {key: {"true": True, "false": False}.get(value, value) for key, value in query.items()}

            def find() -> tuple[list[dict[str, Any]], int]:
                items = list(collection.find(query).limit(limit))
                return items, collection.count_documents(query)

            items, total = await run_in_threadpool(find)
            for item in items:
                item["id"] = item.pop("_id")
            headers = {"X-Total-Count": str(total), "X-Result-Count": str(len(items))}
            return Response(orjson.dumps(items), media_type="application/json", headers=headers)

        return [Route(path, create, methods=["POST"]), Route(path, list_, methods=["GET"])]

    return Starlette(
        routes=[
            *make_routes("product_offering", "/tmf-api/productCatalogManagement/v4/productOffering"),
            *make_routes("product_order", "/tmf-api/productOrderingManagement/v4/productOrder"),
        ]
    )
