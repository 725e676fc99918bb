"""Every OpenAPI document in openapi/ is valid, alone and bundled, and every operation reaches a handler."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from tmf_common.openapi_bundle import bundle
from tmf_server.app import spec_files

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "openapi"
# Documents whose operations have handler packages in this repository: their operationIds must resolve.
WITH_HANDLERS = (
    "event-delivery.yaml",
    "orchestration.yaml",
    "service.yaml",
    "tmf620-product-catalog.yaml",
    "tmf622-product-ordering.yaml",
    "tmf641-service-ordering.yaml",
)
# Documents that are validated only: the shared components, and any API whose package does not exist yet
# (test_every_yaml_file_is_classified fails once that package appears, so the file moves to WITH_HANDLERS).
SPEC_ONLY = ("common.yaml",)
API_FILES = tuple(name for name in WITH_HANDLERS + SPEC_ONLY if name != "common.yaml")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _load(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((OPENAPI_DIR / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _walk(node: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def _refs(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(where, node["$ref"]) for where, node in _walk(document) if isinstance(node.get("$ref"), str)]


def _resolve_pointer(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                yield path, method, operation, [*shared, *operation.get("parameters", [])]


def _package_exists(operation_id: str) -> bool:
    return importlib.util.find_spec(operation_id.split(".", 1)[0]) is not None


def test_every_yaml_file_is_classified():
    found = sorted(path.name for path in [*OPENAPI_DIR.glob("*.yaml"), *OPENAPI_DIR.glob("*.yml")])
    assert found == sorted(WITH_HANDLERS + SPEC_ONLY), (
        "add each new OpenAPI file to WITH_HANDLERS (its operationIds are then checked) or SPEC_ONLY"
    )
    for name in SPEC_ONLY:
        implemented = [
            operation["operationId"]
            for _, _, operation, _ in _operations(_load(name))
            if _package_exists(operation["operationId"])
        ]
        assert implemented == [], f"{name} has handler packages now: move it to WITH_HANDLERS"


def test_the_app_serves_only_documents_whose_handlers_are_checked():
    assert {path.name for path in spec_files()} <= set(WITH_HANDLERS)


@pytest.mark.parametrize("name", WITH_HANDLERS + SPEC_ONLY)
def test_document_is_valid_openapi(name):
    path = OPENAPI_DIR / name
    validate(_load(name), base_uri=path.absolute().as_uri())


@pytest.mark.parametrize("name", API_FILES)
def test_bundled_document_is_valid_and_self_contained(name):
    bundled = bundle(OPENAPI_DIR / name)
    refs = _refs(bundled)
    assert refs, "an API document without references would not exercise the bundler"
    assert [(where, ref) for where, ref in refs if not ref.startswith("#/")] == []
    unresolved = []
    for where, ref in refs:
        try:
            _resolve_pointer(bundled, ref)
        except (KeyError, IndexError, TypeError):
            unresolved.append((where, ref))
    assert unresolved == []
    validate(bundled)


@pytest.mark.parametrize("name", API_FILES)
def test_bundling_keeps_the_document_its_own(name):
    source = _load(name)
    bundled = bundle(OPENAPI_DIR / name)
    assert bundled["paths"].keys() == source["paths"].keys()
    assert bundled["servers"] == source["servers"]
    for section, components in source.get("components", {}).items():
        for component in components:
            assert component in bundled["components"][section]


# The hub is the same on every TMF API: one handler serves each, finding its API from the request path.
SHARED_HANDLER_MODULES = ("tmf_common.hub_api.",)


def test_operation_ids_are_unique_across_documents():
    seen: dict[str, str] = {}
    duplicates = []
    for name in API_FILES:
        for path, method, operation, _ in _operations(_load(name)):
            operation_id = operation.get("operationId")
            assert operation_id, f"{name} {method.upper()} {path} has no operationId"
            if operation_id in seen and not operation_id.startswith(SHARED_HANDLER_MODULES):
                duplicates.append((operation_id, seen[operation_id], name))
            seen[operation_id] = name
    assert duplicates == []


def _handler(operation_id: str) -> Any:
    module_name, _, function_name = operation_id.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def _handler_cases() -> list[Any]:
    cases = []
    for name in WITH_HANDLERS:
        bundled = bundle(OPENAPI_DIR / name)
        for path, method, operation, parameters in _operations(bundled):
            resolved = [_resolve_pointer(bundled, p["$ref"]) if "$ref" in p else p for p in parameters]
            cases.append(pytest.param(operation, resolved, id=f"{name}:{method.upper()} {path}"))
    return cases


HANDLER_CASES = _handler_cases()


def test_handler_documents_have_operations():
    counted = {name: sum(1 for case in HANDLER_CASES if case.id.startswith(name + ":")) for name in WITH_HANDLERS}
    assert all(counted.values()), counted
    catalog_ids = {case.values[0]["operationId"] for case in HANDLER_CASES if case.id.startswith("tmf620")}
    resources = ("catalog", "category", "product_specification", "product_offering", "product_offering_price")
    verbs = ("list", "create", "retrieve", "patch", "delete")
    expected = {f"tmf620_catalog.api.{verb}_{resource}" for resource in resources for verb in verbs}
    assert expected <= catalog_ids, sorted(expected - catalog_ids)


@pytest.mark.parametrize(("operation", "parameters"), HANDLER_CASES)
def test_operation_id_resolves_to_a_handler_taking_its_parameters(operation, parameters):
    handler = _handler(operation["operationId"])
    assert callable(handler)
    signature = inspect.signature(handler)
    accepts_anything = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    if accepts_anything:
        return
    # connexion passes path and query parameters by name and drops those the function does not take,
    # so a missing name would silently ignore the parameter.
    expected = {p["name"] for p in parameters if p["in"] in ("path", "query")}
    if "requestBody" in operation:
        expected.add("body")
    assert expected <= set(signature.parameters), (
        f"{operation['operationId']} misses {expected - set(signature.parameters)}"
    )
    required = {
        name
        for name, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_POSITIONAL
    }
    declared_required = {p["name"] for p in parameters if p.get("required")} | (
        {"body"} if operation.get("requestBody", {}).get("required") else set()
    )
    assert required <= declared_required, (
        f"{operation['operationId']} requires undeclared {required - declared_required}"
    )
