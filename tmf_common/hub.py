"""Event hub subscriptions: listeners registered per API, with a validated callback and a parsed query."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from tmf_common.callbacks import CallbackPolicy, CallbackRefused, default_resolver, validate_callback
from tmf_common.clock import utc_now
from tmf_common.errors import BadRequest, NotFound
from tmf_common.event_filter import EventFilter
from tmf_common.http import RequestContext
from tmf_common.keyed import delete_by_id
from tmf_common.mongo import IndexSpec
from tmf_common.query import parse_fields
from tmf_common.repository import ResourceRepository, StoredResource
from tmf_common.resource_service import list_query
from tmf_common.settings import Settings
from tmf_common.write_guard import WriteGuard

SUBSCRIPTIONS = "hub_subscription"
# One document whose `version` changes with every registration and removal, in whichever process: the relay
# re-reads the subscriptions only when it changed (one read by `_id`), and never relays with a stale list.
VERSIONS = "hub_subscription_version"
VERSION_ID = "subscriptions"
API = "_api"
SECRET = "_secret"
BACKOFF_UNTIL = "_backoffUntil"
INDEXES = [IndexSpec(SUBSCRIPTIONS, [(API, 1), ("_created", 1)])]


@dataclass(frozen=True)
class EventApi:
    """An API whose resources record events, and where its hub lives."""

    name: str
    base_path: str


@dataclass(frozen=True)
class Subscription:
    id: str
    api: str
    callback: str
    filter: EventFilter
    secret: str | None
    backoff_until: str | None = None


class HubService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        apis: list[EventApi],
        guard: WriteGuard,
        resolve: Callable[[str, int], list[str]] = default_resolver,
    ) -> None:
        self.repository = ResourceRepository(database[SUBSCRIPTIONS], guard)
        self.versions = database[VERSIONS]
        self.settings = settings
        self.apis = apis
        self.policy = CallbackPolicy(
            allow_private=settings.allow_private_callbacks, allow_loopback=settings.allow_private_callbacks
        )
        self.resolve = resolve
        # Per API: the version read before the subscriptions were listed, and the parsed subscriptions.
        self._cache: dict[str, tuple[str | None, list[Subscription]]] = {}

    def api_for_path(self, path: str) -> EventApi:
        for api in self.apis:
            if path.startswith(api.base_path + "/"):
                return api
        raise NotFound(f"No event hub at {path}")

    def register(self, api: EventApi, body: dict[str, Any], context: RequestContext) -> StoredResource:
        try:
            callback = validate_callback(str(body["callback"]), self.policy, self.resolve)
        except CallbackRefused as refused:
            raise BadRequest(f"callback refused: {refused.reason}", code="CALLBACK_REFUSED") from refused
        query = body.get("query") or ""
        EventFilter.parse(query)  # an invalid query is refused now, never a subscription that matches nothing
        secret = body.get("secret")
        subscription_id = str(uuid.uuid4())
        resource = {
            "id": subscription_id,
            "href": f"{context.base_url}{api.base_path}/hub/{subscription_id}",
            "callback": callback,
            "query": query,
            "signed": secret is not None,
        }
        stored = self.repository.insert(resource, [], utc_now(), {API: api.name, SECRET: secret})
        self._changed()
        return stored

    def retrieve(self, api: EventApi, subscription_id: str, fields: str | None = None) -> StoredResource:
        found = self.repository.find_one({"_id": subscription_id, API: api.name}, parse_fields(fields))
        if found is None:
            raise NotFound(f"No hub subscription with id '{subscription_id}'")
        return found

    def list(
        self,
        api: EventApi,
        context: RequestContext,
        fields: str | None,
        sort: str | None,
        offset: int | None,
        limit: int | None,
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        query = list_query(self.settings, context, fields, sort, offset, limit)
        return self.repository.list(query.scoped({API: api.name}))

    def unregister(self, api: EventApi, subscription_id: str) -> None:
        deleted = delete_by_id(self.repository.collection, {"_id": subscription_id, API: api.name})
        if not deleted:
            raise NotFound(f"No hub subscription with id '{subscription_id}'")
        self._changed()

    def remove(self, subscription_id: str) -> None:
        """Drop a subscription whatever its API (a listener answered 410 Gone)."""
        self.repository.collection.delete_one({"_id": subscription_id})
        self._changed()

    def subscriptions(self, api_name: str) -> builtins.list[Subscription]:
        """The API's subscriptions, including every one registered (through any process) before this call."""
        # The version is read before the list: a registration that lands in between changes the version again,
        # so the next call re-reads instead of trusting a list that may lack it.
        version = self._version()
        cached = self._cache.get(api_name)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = [self._subscription(document) for document in self.repository.collection.find({API: api_name})]
        self._cache[api_name] = (version, found)
        return found

    def _version(self) -> str | None:
        document = self.versions.find_one({"_id": VERSION_ID})
        return None if document is None else str(document["version"])

    def _changed(self) -> None:
        # After the subscription write, so a reader that sees the new version also sees the write.
        change = {"$set": {"version": uuid.uuid4().hex}}
        try:
            self.versions.update_one({"_id": VERSION_ID}, change, upsert=True)
        except DuplicateKeyError:  # another process created the document at the same moment: now it exists
            self.versions.update_one({"_id": VERSION_ID}, change)

    def get(self, subscription_id: str) -> Subscription | None:
        document = self.repository.collection.find_one({"_id": subscription_id})
        return None if document is None else self._subscription(document)

    def back_off(self, subscription_id: str, until: str | None) -> None:
        """Hold every delivery to a failing subscriber until `until` (None lifts the hold)."""
        self.repository.collection.update_one({"_id": subscription_id}, {"$set": {BACKOFF_UNTIL: until}})

    @staticmethod
    def _subscription(document: dict[str, Any]) -> Subscription:
        return Subscription(
            id=document["_id"],
            api=document[API],
            callback=document["callback"],
            filter=EventFilter.parse(document.get("query")),
            secret=document.get(SECRET),
            backoff_until=document.get(BACKOFF_UNTIL),
        )
