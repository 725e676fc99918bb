"""Load an API's OpenAPI YAML with the shared `common.yaml` components inlined into one document."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

OPENAPI_DIR = Path(__file__).resolve().parents[1] / "openapi"


@cache
def _load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    assert isinstance(loaded, dict), f"{path} is not an OpenAPI document"
    return loaded


def _component(document: dict[str, Any], pointer: str) -> tuple[str, str, Any]:
    parts = pointer.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "components":
        raise ValueError(f"Only component references can cross files, got '#{pointer}'")
    return parts[1], parts[2], document["components"][parts[1]][parts[2]]


def bundle(path: Path) -> dict[str, Any]:
    """The document at path with every `<file>#/components/...` reference made local."""
    root = copy.deepcopy(_load_yaml(path.resolve()))
    components: dict[str, dict[str, Any]] = root.setdefault("components", {})
    pending: list[Any] = [root]
    imported: set[tuple[str, str]] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                file_part, _, pointer = ref.partition("#")
                source = _load_yaml((path.parent / file_part).resolve())
                section, name, value = _component(source, pointer)
                node["$ref"] = f"#/components/{section}/{name}"
                local = components.setdefault(section, {})
                if (section, name) not in imported:
                    if name in local and local[name] != value:
                        raise ValueError(
                            f"{path.name} defines components/{section}/{name} differently from {file_part}"
                        )
                    imported.add((section, name))
                    local[name] = copy.deepcopy(value)
                    # References inside the imported component are local to its own file: make them cross-file.
                    pending.append(_rebase(local[name], file_part))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return root


def _rebase(node: Any, file_part: str) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            node["$ref"] = f"{file_part}{ref}"
        for value in node.values():
            _rebase(value, file_part)
    elif isinstance(node, list):
        for value in node:
            _rebase(value, file_part)
    return node


def api_spec_path(file_name: str) -> Path:
    return OPENAPI_DIR / file_name
