"""The checked-in JSON Schema is generated from the model and agrees with the loader."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.blueprint import schema, units
from orchestrator.blueprint.loader import load, loads
from orchestrator.exceptions import BlueprintError

REPO = Path(__file__).resolve().parents[3]
SCHEMA_FILE = REPO / "blueprints" / "blueprint.schema.json"
BLUEPRINTS = sorted((REPO / "blueprints").glob("*.yaml"))

TOP_LEVEL = {
    "apiVersion",
    "kind",
    "metadata",
    "services",
    "links",
    "proxy",
    "data",
    "suites",
    "secrets",
    "budget",
    "ttl",
    "egress",
    "profile",
    "intentional",
    "pricing",
}


@pytest.fixture(scope="module")
def checked_in() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def test_checked_in_schema_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema.render(), (
        f"{SCHEMA_FILE.relative_to(REPO)} is stale: the blueprint model changed; "
        "run `make schema` and commit the result"
    )


def test_rendered_schema_is_deterministic() -> None:
    # Sorted keys and a trailing newline: regenerating never produces a spurious diff.
    first = schema.render()
    assert first == schema.render()
    assert first.endswith("}\n")
    assert json.loads(first) == schema.blueprint_schema()


def test_schema_identifies_itself(checked_in: dict[str, Any]) -> None:
    assert checked_in["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert checked_in["$id"] == schema.SCHEMA_ID
    assert checked_in["type"] == "object"


def test_schema_top_level_properties(checked_in: dict[str, Any]) -> None:
    assert set(checked_in["properties"]) == TOP_LEVEL
    assert set(checked_in["required"]) == {"apiVersion", "kind", "metadata", "services"}
    # Editors flag typos at the top level, as the loader does.
    assert checked_in["additionalProperties"] is False
    assert checked_in["properties"]["apiVersion"]["const"] == "envctl/v1"


def test_schema_uses_yaml_key_names_not_python_field_names(checked_in: dict[str, Any]) -> None:
    defs = checked_in["$defs"]
    assert "from" in defs["Link"]["properties"]
    assert "from_" not in defs["Link"]["properties"]
    assert "schema" in defs["DataSeed"]["properties"]
    assert "schema_" not in defs["DataSeed"]["properties"]


def test_schema_unit_patterns_match_the_parsers(checked_in: dict[str, Any]) -> None:
    text = json.dumps(checked_in)
    for pattern in (units.DURATION_PATTERN, units.SIZE_PATTERN, units.CPU_PATTERN):
        assert json.dumps(pattern) in text
    ttl = checked_in["properties"]["ttl"]
    string_forms = [f for f in ttl["anyOf"] if f.get("type") == "string"]
    assert string_forms == [{"type": "string", "pattern": units.DURATION_PATTERN}]
    assert re.fullmatch(string_forms[0]["pattern"], "1h30m")


NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


def test_service_schema_applies_to_valid_names(checked_in: dict[str, Any]) -> None:
    services = checked_in["properties"]["services"]
    assert services["minProperties"] == 1
    assert services["patternProperties"] == {NAME_PATTERN: {"$ref": "#/$defs/Service"}}


def test_schema_rejects_badly_named_services(checked_in: dict[str, Any]) -> None:
    # patternProperties alone would let `Bad_Name:` (and anything under it) through.
    assert checked_in["properties"]["services"]["additionalProperties"] is False


def _pattern_maps(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if "patternProperties" in node:
            found.append(node)
        for value in node.values():
            found += _pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            found += _pattern_maps(value)
    return found


def test_every_key_pattern_map_is_closed(checked_in: dict[str, Any]) -> None:
    # Env maps too: the model rejects `1BAD: x` as an env name, so must the schema.
    maps = _pattern_maps(checked_in)
    assert len(maps) >= 2  # services, and the env maps
    assert all(m.get("additionalProperties") is False for m in maps)
    env = checked_in["$defs"]["Service"]["properties"]["env"]
    assert list(env["patternProperties"]) == ["^[A-Za-z_][A-Za-z0-9_]*$"]


def test_there_are_blueprints_to_check() -> None:
    assert REPO / "blueprints" / "checkout.yaml" in BLUEPRINTS


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.name)
def test_every_checked_in_blueprint_loads(path: Path) -> None:
    loaded = load(path)
    assert loaded.path == path


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.name)
def test_every_checked_in_blueprint_uses_only_schema_keys(
    path: Path, checked_in: dict[str, Any]
) -> None:
    # Without jsonschema, at least the top-level keys and the service keys must be ones
    # the schema declares, so editors using it do not flag a blueprint envctl accepts.
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(data) <= set(checked_in["properties"])
    service_keys = set(checked_in["$defs"]["Service"]["properties"])
    for name, service in data["services"].items():
        assert set(service) <= service_keys, name


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.name)
def test_every_checked_in_blueprint_validates_against_the_json_schema(
    path: Path, checked_in: dict[str, Any]
) -> None:
    import jsonschema

    # As an editor sees it: YAML's unquoted dates (2024-01-01) are strings to JSON Schema.
    data = json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))
    jsonschema.Draft202012Validator(checked_in).validate(data)


SHAPE_MISTAKES = {
    "bad service name": ("services", "Bad_Name", {"image": "x:1"}),
    "unknown service key": ("services", "db", {"imgae": "postgres:15"}),
    "bad env name": ("services", "db", {"env": {"1BAD": "x"}}),
    "python field name": ("links", None, [{"from_": "db", "to": "cache"}]),
    "bad duration": ("ttl", None, "15 minutes"),
}


@pytest.mark.parametrize("mistake", list(SHAPE_MISTAKES), ids=str)
def test_schema_and_loader_both_reject_shape_mistakes(
    mistake: str, checked_in: dict[str, Any]
) -> None:
    import jsonschema

    data = yaml.safe_load((REPO / "blueprints" / "checkout.yaml").read_text(encoding="utf-8"))
    key, name, value = SHAPE_MISTAKES[mistake]
    if name is None:
        data[key] = value
    else:
        data[key][name] = value
    validator = jsonschema.Draft202012Validator(checked_in)
    assert list(validator.iter_errors(data)), f"the JSON Schema accepts: {mistake}"
    with pytest.raises(BlueprintError):
        loads(yaml.safe_dump(data, sort_keys=False), str(REPO / "blueprints" / "checkout.yaml"))
