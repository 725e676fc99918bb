"""Loads the reference example TMF620 catalog (examples/catalog/*.json) into a running server over HTTP."""

from __future__ import annotations

import graphlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

CATALOG_API_PATH = "/tmf-api/productCatalogManagement/v4"
DEFAULT_DIRECTORY = Path(__file__).resolve().parents[1] / "examples" / "catalog"
DEFAULT_TIMEOUT_SECONDS = 10.0
KEY_PROPERTY = "x-key"

# An unknown file name is an error rather than skipped, so a misnamed file cannot silently drop
# resources from the demo catalog.
RESOURCE_BY_FILE: Mapping[str, str] = {
    "product-specifications.json": "productSpecification",
    "product-offering-prices.json": "productOfferingPrice",
    "product-offerings.json": "productOffering",
    "categories.json": "category",
    "catalogs.json": "catalog",
}

# The server refuses these on POST; catching them here names the file instead of a bare 400.
_SERVER_SET_PROPERTIES = ("id", "href", "lastUpdate")

# Keys exclude "." so that "{{key.href}}" is unambiguous.
_KEY_CHARS = r"[A-Za-z0-9_-]+"
_KEY_RE = re.compile(rf"^{_KEY_CHARS}$")
_PLACEHOLDER_RE = re.compile(rf"\{{\{{({_KEY_CHARS})(\.href)?\}}\}}")


class ExampleCatalogError(Exception):
    """The example files are inconsistent, or the server refused or failed a request."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class ExampleItem:
    """One `_Create` body from the example files, with its stable key and target collection."""

    key: str
    resource: str
    body: dict[str, Any]
    source: str


def read_example_items(directory: Path = DEFAULT_DIRECTORY) -> list[ExampleItem]:
    """Read every example file; x-key is moved out of the body into `ExampleItem.key`."""
    if not directory.is_dir():
        raise ExampleCatalogError(f"example catalog directory {directory} does not exist")
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise ExampleCatalogError(f"no *.json files in {directory}")
    items: list[ExampleItem] = []
    seen: dict[str, str] = {}
    for path in paths:
        resource = RESOURCE_BY_FILE.get(path.name)
        if resource is None:
            raise ExampleCatalogError(f"{path}: unknown file name; expected one of {sorted(RESOURCE_BY_FILE)}")
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ExampleCatalogError(f"{path}: invalid JSON: {exc}") from exc
        if not isinstance(content, list):
            raise ExampleCatalogError(f"{path}: expected a JSON array of {resource} bodies")
        for index, raw in enumerate(content):
            item = _parse_item(raw, resource, f"{path.name}[{index}]")
            if item.key in seen:
                raise ExampleCatalogError(f"{item.source}: x-key {item.key!r} already used in {seen[item.key]}")
            seen[item.key] = item.source
            items.append(item)
    return items


def _parse_item(raw: Any, resource: str, source: str) -> ExampleItem:
    if not isinstance(raw, dict):
        raise ExampleCatalogError(f"{source}: expected a JSON object")
    body = dict(raw)
    key = body.pop(KEY_PROPERTY, None)
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ExampleCatalogError(f"{source}: {KEY_PROPERTY} must be a string matching {_KEY_CHARS}, got {key!r}")
    server_set = [name for name in _SERVER_SET_PROPERTIES if name in body]
    if server_set:
        raise ExampleCatalogError(f"{source} ({key}): the server sets {server_set}; remove them from the file")
    return ExampleItem(key=key, resource=resource, body=body, source=source)


def placeholder_keys(value: Any) -> set[str]:
    """Keys named by `{{key}}` / `{{key.href}}` placeholders anywhere inside a JSON value."""
    if isinstance(value, str):
        _check_well_formed(value)
        return {match.group(1) for match in _PLACEHOLDER_RE.finditer(value)}
    children: list[Any] = []
    if isinstance(value, Mapping):
        children = list(value.values())
    elif isinstance(value, list):
        children = value
    keys: set[str] = set()
    for child in children:
        keys |= placeholder_keys(child)
    return keys


def _check_well_formed(text: str) -> None:
    # A typo such as "{{po.id}}" would otherwise reach the server as a literal id and only fail much later.
    leftover = _PLACEHOLDER_RE.sub("", text)
    if "{{" in leftover or "}}" in leftover:
        raise ExampleCatalogError(f"malformed placeholder in {text!r}; use {{{{key}}}} or {{{{key.href}}}}")


def creation_order(items: Sequence[ExampleItem]) -> list[str]:
    """Keys ordered so that every item comes after the items its placeholders refer to.

    Ties keep the input order, so the result is deterministic.
    """
    position: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.key in position:
            raise ExampleCatalogError(f"{item.source}: duplicate x-key {item.key!r}")
        position[item.key] = index
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for item in items:
        dependencies = placeholder_keys(item.body)
        unknown = dependencies - position.keys()
        if unknown:
            raise ExampleCatalogError(f"{item.source} ({item.key}): refers to unknown key(s) {sorted(unknown)}")
        sorter.add(item.key, *dependencies)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle: list[str] = exc.args[1]
        raise ExampleCatalogError(f"reference cycle between example items: {' -> '.join(cycle)}") from exc
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def resolve_placeholders(value: Any, created: Mapping[str, Mapping[str, Any]]) -> Any:
    """Copy of a JSON value with every placeholder replaced by the created resource's id or href."""
    if isinstance(value, str):
        _check_well_formed(value)
        return _PLACEHOLDER_RE.sub(lambda match: _created_field(created, match.group(1), match.group(2)), value)
    if isinstance(value, Mapping):
        return {name: resolve_placeholders(child, created) for name, child in value.items()}
    if isinstance(value, list):
        return [resolve_placeholders(child, created) for child in value]
    return value


def _created_field(created: Mapping[str, Mapping[str, Any]], key: str, href_suffix: str | None) -> str:
    field = "href" if href_suffix else "id"
    resource = created.get(key)
    if resource is None:
        raise ExampleCatalogError(f"placeholder refers to {key!r}, which has not been created yet")
    found = resource.get(field)
    if not isinstance(found, str):
        raise ExampleCatalogError(f"created resource {key!r} has no string {field!r}: {resource!r}")
    return found


def load_example_catalog(
    base_url: str,
    directory: Path = DEFAULT_DIRECTORY,
    session: requests.Session | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, dict[str, Any]]:
    """POST the example catalog to the server at `base_url` (its root, e.g. http://127.0.0.1:8080).

    Returns x-key -> created resource. Not idempotent: loading twice creates a second copy.
    """
    items = read_example_items(directory)
    # Order and references are checked before the first POST, so a broken file set creates nothing.
    order = creation_order(items)
    by_key = {item.key: item for item in items}
    api_root = base_url.rstrip("/") + CATALOG_API_PATH
    http = session if session is not None else requests.Session()
    try:
        created: dict[str, dict[str, Any]] = {}
        for key in order:
            item = by_key[key]
            body = resolve_placeholders(item.body, created)
            created[key] = _post_created(http, f"{api_root}/{item.resource}", body, item, timeout)
        return created
    finally:
        if session is None:
            http.close()


def _post_created(
    http: requests.Session, url: str, body: dict[str, Any], item: ExampleItem, timeout: float
) -> dict[str, Any]:
    try:
        response = http.post(url, json=body, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.RequestException as exc:
        raise ExampleCatalogError(f"POST {url} for {item.key!r} failed: {exc}") from exc
    if response.status_code != 201:
        raise ExampleCatalogError(
            f"POST {url} for {item.key!r} ({item.source}) answered {response.status_code}: {response.text}",
            status=response.status_code,
            body=_response_body(response),
        )
    created = _response_body(response)
    if not isinstance(created, dict) or not isinstance(created.get("id"), str):
        raise ExampleCatalogError(
            f"POST {url} for {item.key!r} answered 201 without a resource id: {response.text}",
            status=response.status_code,
            body=created,
        )
    return created


def _response_body(response: requests.Response) -> Any:
    # Error bodies are usually TMF Error JSON, but a proxy or crash page may not be; keep the text then.
    try:
        return response.json()
    except ValueError:
        return response.text


REFERENCE_ORDER = Path(__file__).resolve().parents[1] / "examples" / "orders" / "family-plan-order.json"


def order_for_catalog(order: dict[str, Any], created: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of an example order whose productOffering ids (catalog x-keys) name the loaded catalog's entities."""
    resolved = json.loads(json.dumps(order))
    pending = list(resolved.get("productOrderItem") or [])
    while pending:
        item = pending.pop()
        offering = item.get("productOffering") or {}
        if offering.get("id") in created:
            item["productOffering"] = {**offering, "id": _created_field(created, offering["id"], None)}
        pending.extend(item.get("productOrderItem") or [])
    return resolved
