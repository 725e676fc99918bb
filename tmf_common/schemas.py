"""Compiled JSON-schema validators for the component schemas of a bundled OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastjsonschema

from tmf_common.errors import BadRequest


class SchemaValidators:
    """Validate resources against `#/components/schemas/<name>`, compiled once per name."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._components = spec.get("components", {})
        self._compiled: dict[str, Callable[[Any], Any]] = {}

    def validator(self, schema_name: str) -> Callable[[Any], Any]:
        compiled = self._compiled.get(schema_name)
        if compiled is None:
            if schema_name not in self._components.get("schemas", {}):
                raise KeyError(f"No schema named '{schema_name}'")
            root = {"$ref": f"#/components/schemas/{schema_name}", "components": self._components}
            compiled = fastjsonschema.compile(root, use_formats=False)
            self._compiled[schema_name] = compiled
        return compiled

    def check(self, schema_name: str, value: Any, what: str) -> None:
        try:
            self.validator(schema_name)(value)
        except fastjsonschema.JsonSchemaValueException as error:
            name = error.name or "data"
            path = name.replace("data.", "", 1) if name != "data" else what
            detail = str(error.message).replace(name + " ", "", 1)
            raise BadRequest(f"Invalid {what}: {path}: {detail}") from error
