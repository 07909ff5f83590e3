"""The blueprint JSON Schema, generated from the model (checked in, tested for staleness)."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.blueprint.model import Blueprint

SCHEMA_ID = "https://envctl.dev/schemas/blueprint-v1.json"


def blueprint_schema() -> dict[str, Any]:
    schema = Blueprint.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def render() -> str:
    return json.dumps(blueprint_schema(), indent=2, sort_keys=True) + "\n"
