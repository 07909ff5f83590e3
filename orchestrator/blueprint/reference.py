"""The blueprint reference in Markdown, generated from the JSON Schema.

``docs/blueprint-reference.md`` is this module's output (``make schema`` writes it, a test
fails when it is stale), so the reference can never disagree with what ``envctl validate``
accepts. Every object model gets a section, in the order a reader meets them walking the
schema from the top (depth first, fields in declaration order); each field a row with its
type, default, allowed values and description. Enums and the value formats (durations,
sizes, CPU) are inlined as links rather than given sections of their own.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import WithJsonSchema

from orchestrator.blueprint import fields, units

JsonNode = dict[str, Any]

GENERATED_BY = "make schema"

# The value formats shared by many fields, recognised by their pattern. Their text is the
# one the fields module gives the schema, so the two never drift apart.
_FORMATS = (
    ("duration", units.DURATION_PATTERN, fields.Duration),
    ("size", units.SIZE_PATTERN, fields.Size),
    ("cpu", units.CPU_PATTERN, fields.Cpu),
)
_FORMAT_OF_PATTERN = {pattern: name for name, pattern, _ in _FORMATS}


def _format_schema(annotated: Any) -> JsonNode:
    for meta in typing.get_args(annotated)[1:]:
        if isinstance(meta, WithJsonSchema) and meta.json_schema is not None:
            return dict(meta.json_schema)
    raise AssertionError(f"{annotated!r} carries no WithJsonSchema")


_FORMAT_DESCRIPTIONS = frozenset(
    _format_schema(annotated).get("description", "") for _, _, annotated in _FORMATS
)


def slug(heading: str) -> str:
    """The anchor GitHub (and most renderers) derive from a heading's text."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@dataclass
class _Section:
    name: str  # the $defs name, or "Blueprint" for the root
    node: JsonNode
    paths: list[str] = field(default_factory=list)  # where blueprints write it; [] the root

    @property
    def anchor(self) -> str:
        return slug(self.name)


class _Renderer:
    def __init__(self, schema: JsonNode) -> None:
        self.schema = schema
        self.defs: dict[str, JsonNode] = schema.get("$defs", {})
        self.sections: dict[str, _Section] = {}

    # ----------------------------------------------------------------- the walk

    def collect(self) -> list[_Section]:
        """Every object model reachable from the root, depth first, fields in order."""
        root = _Section(_title(self.schema, "Blueprint"), self.schema)
        self.sections[root.name] = root
        self._walk_fields(root.node, "")
        return list(self.sections.values())

    def _walk_fields(self, node: JsonNode, prefix: str) -> None:
        for key, prop in node.get("properties", {}).items():
            path = f"{prefix}.{key}" if prefix else key
            for ref, suffix in self._refs(prop):
                self._visit(ref, path + suffix)

    def _visit(self, ref: str, path: str) -> None:
        target = self.defs[ref]
        if not _is_object(target):
            return
        seen = ref in self.sections
        section = self.sections.setdefault(ref, _Section(ref, target))
        if path not in section.paths:
            section.paths.append(path)
        if not seen:
            self._walk_fields(target, path)

    def _refs(self, node: JsonNode, suffix: str = "") -> Iterator[tuple[str, str]]:
        """Object models a field's value may hold, with the path suffix reaching them."""
        if "$ref" in node:
            yield node["$ref"].rsplit("/", 1)[-1], suffix
        for branch in node.get("anyOf", []):
            yield from self._refs(branch, suffix)
        if isinstance(node.get("items"), dict):
            yield from self._refs(node["items"], suffix + "[]")
        for value in node.get("patternProperties", {}).values():
            yield from self._refs(value, suffix + ".<name>")
        if isinstance(node.get("additionalProperties"), dict):
            yield from self._refs(node["additionalProperties"], suffix + ".<name>")

    # ----------------------------------------------------------------- rendering

    def render(self) -> str:
        sections = self.collect()
        out = [
            "# Blueprint reference",
            "",
            f"<!-- Generated from the blueprint model by `{GENERATED_BY}` "
            "(orchestrator/blueprint/reference.py); do not edit by hand. -->",
            "",
            "Every key a blueprint takes, generated from its JSON Schema "
            "([blueprints/blueprint.schema.json](../blueprints/blueprint.schema.json), "
            "what `envctl schema` prints), so it lists exactly what `envctl validate` "
            "accepts. [blueprint.md](blueprint.md) explains how the pieces fit together.",
            "",
            "Every section is closed: a key it does not list is an error. "
            "*default* `—` means optional and empty (or off) when absent; "
            "**required** keys have no default.",
            "",
            "Sections: " + " · ".join(f"[{s.name}](#{s.anchor})" for s in sections),
            "",
            "## Value formats",
            "",
            "| format | pattern | meaning |",
            "| --- | --- | --- |",
        ]
        for name, pattern, annotated in _FORMATS:
            text = _format_schema(annotated).get("description", "")
            out.append(f'| <a id="{name}"></a>{name} | {_code(pattern)} | {_cell(text)} |')
        for section in sections:
            out += ["", *self._section(section)]
        return "\n".join(out) + "\n"

    def _section(self, section: _Section) -> list[str]:
        node = section.node
        lines = [f"## {section.name}", ""]
        where = ", ".join(_code(p) for p in section.paths)
        lines += [f"At {where}." if where else "The top level of the document.", ""]
        if description := node.get("description"):
            lines += [_prose(description), ""]
        lines += [
            "| key | type | default | allowed | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        required = set(node.get("required", []))
        for key, prop in node.get("properties", {}).items():
            default = "**required**" if key in required else self._default(prop)
            cells = (
                _code(key),
                self._type(prop),
                default,
                "; ".join(self._allowed(prop)),
                _cell(self._description(prop)),
            )
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def _type(self, node: JsonNode, nested: bool = False) -> str:
        """'string', 'list of [Link](#link)', '[integer, integer]', 'map of name → string'."""
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            target = self.defs[name]
            if _is_object(target):
                return f"[{name}](#{slug(name)})"
            return self._type(target, nested)
        if fmt := _format_of(node):
            return f"[{fmt}](#{fmt})"
        if "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            # Inside a list or a map, "/" keeps "list of a/b or map" unambiguous.
            joiner = "/" if nested else " or "
            return joiner.join(dict.fromkeys(self._type(b, True) for b in branches))
        kind = node.get("type")
        if kind == "array":
            if "prefixItems" in node:
                return "[" + ", ".join(self._type(i, True) for i in node["prefixItems"]) + "]"
            return "list of " + self._type(node.get("items", {}), True)
        if kind == "object":
            value: JsonNode | None = None
            if pattern_props := node.get("patternProperties"):
                value = next(iter(pattern_props.values()))
            elif isinstance(node.get("additionalProperties"), dict):
                value = node["additionalProperties"]
            return "map of name → " + self._type(value, True) if value is not None else "mapping"
        if kind == "string" and "format" in node:
            return str(node["format"])  # date, date-time
        if isinstance(kind, str):
            return kind
        return "any"

    def _allowed(self, node: JsonNode, scope: str = "") -> list[str]:
        """Constraints on a value: a const, enum values, ranges, patterns, sizes."""
        found: list[str] = []
        if "$ref" in node:
            target = self.defs[node["$ref"].rsplit("/", 1)[-1]]
            return [] if _is_object(target) else self._allowed(target, scope)
        if _format_of(node):
            return []  # the format's own section says what it takes
        if "const" in node:
            found.append(_code(_json(node["const"])))
        if "enum" in node:
            found.append(" · ".join(_code(_json(v)) for v in node["enum"]))
        if "pattern" in node:
            found.append(_code(node["pattern"]))
        found += _bounds(node)
        for branch in node.get("anyOf", []):
            found += self._allowed(branch)
        if isinstance(node.get("items"), dict):
            found += self._allowed(node["items"], "each ")
        for i, item in enumerate(node.get("prefixItems", [])):
            found += self._allowed(item, f"item {i + 1}: ")
        for pattern, value in node.get("patternProperties", {}).items():
            found.append("keys " + _code(pattern))
            found += self._allowed(value, "values: ")
        if isinstance(node.get("additionalProperties"), dict):
            found += self._allowed(node["additionalProperties"], "values: ")
        return [scope + c for c in dict.fromkeys(found)]

    def _default(self, node: JsonNode) -> str:
        if "default" not in node or node["default"] is None:
            return "—"
        value = node["default"]
        if _format_of(node) == "duration" or any(
            _format_of(b) == "duration" for b in node.get("anyOf", [])
        ):
            return _code(_duration(float(value)))
        return _code(_json(value))

    def _description(self, node: JsonNode) -> str:
        text = node.get("description", "")
        if text in _FORMAT_DESCRIPTIONS:
            text = ""  # the type column links to the format already
        if not text and "$ref" in node:
            # An enum's own docstring says what its values mean.
            target = self.defs[node["$ref"].rsplit("/", 1)[-1]]
            if not _is_object(target):
                text = target.get("description", "")
        return _prose(text)


def _is_object(node: JsonNode) -> bool:
    return node.get("type") == "object" and "properties" in node


def _title(node: JsonNode, default: str) -> str:
    title = node.get("title", default)
    return title if isinstance(title, str) else default


def _format_of(node: JsonNode) -> str | None:
    """'duration', 'size' or 'cpu' for a node written as one of the shared formats."""
    for branch in node.get("anyOf", []):
        if branch.get("type") == "string" and branch.get("pattern") in _FORMAT_OF_PATTERN:
            return _FORMAT_OF_PATTERN[branch["pattern"]]
    return None


def _bounds(node: JsonNode) -> list[str]:
    """Ranges as `0 ≤ x ≤ 1`, `> 0`; lengths as `at least 1 entry`."""
    found = []
    lo = _number(node, "minimum", "≥", "exclusiveMinimum", ">")
    hi = _number(node, "maximum", "≤", "exclusiveMaximum", "<")
    if lo and hi:
        found.append(f"{lo[1]} {'≤' if lo[0] == '≥' else '<'} x {hi[0]} {hi[1]}")
    elif lo or hi:
        found.append(" ".join(lo or hi))
    counts = [("minLength", "at least", "character"), ("minProperties", "at least", "entry")]
    if "prefixItems" not in node:  # a pair's length is in its type already
        counts += [("minItems", "at least", "item"), ("maxItems", "at most", "item")]
    for key, how, word in counts:
        if key in node:
            n = node[key]
            found.append(f"{how} {n} {word if n == 1 else _plural(word)}")
    return found


def _plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def _number(node: JsonNode, inclusive: str, sign: str, exclusive: str, strict: str) -> list[str]:
    if inclusive in node:
        return [sign, _json(node[inclusive])]
    if exclusive in node:
        return [strict, _json(node[exclusive])]
    return []


def _duration(seconds: float) -> str:
    """A default in the blueprint's own units: 7200 → 2h, 0.2 → 200ms."""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    if seconds == 0:
        return "0"
    return f"{round(seconds * 1000)}ms"


def _json(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _code(text: str) -> str:
    ticks = "``" if "`" in text else "`"
    pad = " " if ticks == "``" else ""
    return f"{ticks}{pad}{_escape(text)}{pad}{ticks}"


def _escape(text: str) -> str:
    # A table cell ends at a bare `|`, even inside a code span.
    return text.replace("|", "\\|")


def _prose(text: str) -> str:
    """A docstring as Markdown: ``rst literals`` become `code`, paragraphs one line each."""
    text = text.replace("``", "`")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(p for p in paragraphs if p)


def _cell(text: str) -> str:
    return _escape(" ".join(text.split()))


def render(schema: JsonNode | None = None) -> str:
    """The reference for ``schema`` (default: the blueprint schema `envctl schema` prints)."""
    if schema is None:
        from orchestrator.blueprint.schema import blueprint_schema

        schema = blueprint_schema()
    return _Renderer(schema).render()
