"""docs/blueprint-reference.md is generated from the blueprint schema and kept current."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator.blueprint import reference, units
from orchestrator.blueprint.schema import blueprint_schema

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "docs" / "blueprint-reference.md"


@pytest.fixture(scope="module")
def rendered() -> str:
    return reference.render()


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return blueprint_schema()


def _section(text: str, name: str) -> str:
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {name!r}"
    return match[1]


def _row(section: str, key: str) -> list[str]:
    for line in section.splitlines():
        if line.startswith(f"| `{key}` |"):
            return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    raise AssertionError(f"no row for {key!r} in:\n{section}")


def test_checked_in_reference_is_up_to_date(rendered: str) -> None:
    assert REFERENCE.read_text(encoding="utf-8") == rendered, (
        "docs/blueprint-reference.md is stale: the blueprint model changed; "
        "run `make schema` and commit the result"
    )


def test_rendering_is_deterministic(rendered: str) -> None:
    assert reference.render() == rendered
    assert rendered.endswith("|\n") and not rendered.endswith("\n\n")


def test_every_model_has_a_section_with_every_field(rendered: str, schema: dict[str, Any]) -> None:
    models = {"Blueprint": schema} | {
        name: node for name, node in schema["$defs"].items() if "properties" in node
    }
    for name, node in models.items():
        section = _section(rendered, name)
        for key in node["properties"]:
            _row(section, key)


def test_enums_are_inlined_not_given_sections(rendered: str, schema: dict[str, Any]) -> None:
    enums = [name for name, node in schema["$defs"].items() if "enum" in node]
    assert {"Tier", "Engine", "FakeKind"} <= set(enums)
    for name in enums:
        assert f"\n## {name}\n" not in rendered
    tier = _row(_section(rendered, "Metadata"), "tier")
    assert tier[1:4] == ["string", "`standard`", "`critical` · `standard` · `extended`"]


def test_every_link_points_at_a_heading_or_anchor(rendered: str) -> None:
    anchors = {reference.slug(h) for h in re.findall(r"^#+ (.+)$", rendered, re.M)}
    anchors |= set(re.findall(r'<a id="([^"]+)"></a>', rendered))
    links = set(re.findall(r"\]\(#([^)]+)\)", rendered))
    assert {"service", "link", "fault", "duration"} <= links
    assert links <= anchors, f"dangling: {sorted(links - anchors)}"


def test_sections_follow_the_schema_from_the_top(rendered: str) -> None:
    order = re.findall(r"^## (.+)$", rendered, re.M)
    assert order[:4] == ["Value formats", "Blueprint", "Metadata", "Service"]
    # Nested models follow the one that holds them: Service, then what it is made of.
    assert order.index("Readiness") == order.index("Service") + 1
    assert order.index("Latency") == order.index("Link") + 1
    assert order.index("ColumnSpec") == order.index("TableSpec") + 1
    assert "At `links[].faults[]`, `links[].schedule[].fault`." in _section(rendered, "Fault")


def test_fields_show_type_default_constraints_and_description(rendered: str) -> None:
    top = _section(rendered, "Blueprint")
    assert _row(top, "apiVersion")[1:4] == ["string", "**required**", "`envctl/v1`"]
    ttl = _row(top, "ttl")
    assert ttl[1:3] == ["[duration](#duration)", "`2h`"]
    assert ttl[4] == "Reaped by `envctl gc` after this long."
    services = _row(top, "services")
    assert services[1] == "map of name → [Service](#service)"
    assert "at least 1 entry" in services[3]
    ports = _row(_section(rendered, "Service"), "ports")
    assert ports[1:4] == ["list of integer", "—", "each 1 ≤ x ≤ 65535"]
    rate = _row(_section(rendered, "BandwidthFault"), "rate")
    assert rate[1:4] == ["number", "**required**", "> 0"]
    assert _row(_section(rendered, "Readiness"), "interval")[2] == "`200ms`"
    assert _row(_section(rendered, "Suite"), "timeout")[2] == "`30m`"


def test_patterns_are_escaped_for_tables(rendered: str) -> None:
    # `|` inside a regex would end the table cell; it must be written `\|`.
    formats = _section(rendered, "Value formats")
    escaped = units.DURATION_PATTERN.replace("|", "\\|")
    assert f"`{escaped}`" in formats
    transforms = _row(_section(rendered, "Restore"), "transforms")
    assert "`^(hash\\|null\\|fake:[a-z_]+)$`" in transforms[3]


def test_a_small_schema_renders_every_kind_of_constraint() -> None:
    schema = {
        "title": "Thing",
        "description": "A ``thing``.\n\nSecond paragraph.",
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z]+$", "description": "Its name."},
            "mode": {"$ref": "#/$defs/Mode", "default": "fast"},
            "parts": {"type": "array", "items": {"$ref": "#/$defs/Part"}},
            "ratio": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}]},
        },
        "$defs": {
            "Mode": {"enum": ["fast", "slow"], "type": "string", "description": "How fast."},
            "Part": {
                "type": "object",
                "properties": {"size": {"type": "integer", "exclusiveMinimum": 0, "default": 3}},
            },
        },
    }
    text = reference.render(schema)
    thing = _section(text, "Thing")
    assert "A `thing`.\n\nSecond paragraph." in thing
    assert _row(thing, "name") == ["`name`", "string", "**required**", "`^[a-z]+$`", "Its name."]
    assert _row(thing, "mode") == ["`mode`", "string", "`fast`", "`fast` · `slow`", "How fast."]
    assert _row(thing, "parts")[1] == "list of [Part](#part)"
    assert _row(thing, "ratio")[1:4] == ["number", "—", "0 ≤ x ≤ 1"]
    part = _section(text, "Part")
    assert "At `parts[]`." in part
    assert _row(part, "size")[1:4] == ["integer", "`3`", "> 0"]


# ------------------------------------------------------------------ envctl schema


def test_cli_prints_and_checks_the_reference(cli: Any, tmp_path: Path, rendered: str) -> None:
    printed = cli("schema", "--format", "markdown")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == rendered

    current = cli("schema", "--format", "markdown", "--check", str(REFERENCE))
    assert current.returncode == 0, current.stderr

    target = tmp_path / "reference.md"
    wrote = cli("schema", "--format", "markdown", "--write", str(target))
    assert wrote.returncode == 0, wrote.stderr
    assert target.read_text(encoding="utf-8") == rendered

    target.write_text(rendered.replace("## Service\n", "## Servce\n"), encoding="utf-8")
    stale = cli("schema", "--format", "markdown", "--check", str(target))
    assert stale.returncode == 1
    assert "is stale: run `make schema`" in stale.stderr


def test_cli_json_stays_the_default(cli: Any) -> None:
    printed = cli("schema")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == (REPO / "blueprints" / "blueprint.schema.json").read_text("utf-8")
