"""The blueprint JSON Schema, generated from the model (checked in, tested for staleness)."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.blueprint.model import Blueprint

SCHEMA_ID = "https://envctl.dev/schemas/blueprint-v1.json"


def blueprint_schema() -> dict[str, Any]:
    schema = Blueprint.model_json_schema(by_alias=True, mode="validation")
    _close_pattern_maps(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def _close_pattern_maps(node: Any) -> None:
    """Maps with key patterns (service names, env vars) must reject other keys too.

    pydantic renders ``dict[Annotated[str, pattern], X]`` as ``patternProperties`` alone,
    which lets any other key through; the model itself rejects them.
    """
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)


def render() -> str:
    return json.dumps(blueprint_schema(), indent=2, sort_keys=True) + "\n"
