"""YAML → plain data plus a map from every key path to its line and column.

PyYAML's composer gives nodes with marks; we build the Python values ourselves so that
each value keeps its position, duplicate keys are caught (YAML silently keeps the last
one), and anchors that refer to themselves cannot send us into a loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from orchestrator.exceptions import BlueprintError, Location

Path = tuple[str | int, ...]
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class SourceMap:
    """Positions of every node in one blueprint file, keyed by key path."""

    file: str
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path) -> Location:
        """The position of ``path``, or of its nearest ancestor that exists in the file."""
        probe = tuple(path)
        while probe and probe not in self.positions:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (1, 1))
        return Location(self.file, line, column, tuple(path))

    def error(self, path: Path, message: str, hint: str | None = None) -> BlueprintError:
        return BlueprintError(message, self.locate(path), hint=hint)


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.constructor = yaml.SafeLoader("")
        self._active: set[int] = set()

    def build(self, node: yaml.Node, path: Path) -> Any:
        mark = node.start_mark
        self.source.positions.setdefault(path, (mark.line + 1, mark.column + 1))
        if id(node) in self._active:
            raise self.source.error(path, "an alias refers to itself", "remove the cycle")
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.constructor.construct_object(node, deep=True)
            except Exception as exc:
                # PyYAML's scalar constructors raise whatever their parsing hits
                # (`2024-02-30`, `!!int abc`, `!!bool maybe`): all mean "bad value here".
                raise self.source.error(
                    path, f"cannot read value {node.value!r}: {getattr(exc, 'problem', exc)}"
                ) from None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        raise self.source.error(path, f"unsupported YAML node {node.tag!r}")

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        # `<<: *base` merges. We merge ourselves rather than through PyYAML's
        # flatten_mapping, whose pair order (and so which source wins) changed in
        # PyYAML 6.0.4: by the merge-key spec, the mapping's own keys win, then the
        # sources in the order listed. Nodes are never rewritten, so aliases are safe.
        sources: list[yaml.MappingNode] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources.extend(self._merge_sources(value_node, path))
            else:
                own.append((key_node, value_node))
        out: dict[str, Any] = {}
        for source in reversed(sources):  # earlier sources overwrite later ones
            merged = self.build(source, path)
            assert isinstance(merged, dict)
            out.update(merged)
        own_keys: set[str] = set()
        for key_node, value_node in own:
            mark = key_node.start_mark
            if not isinstance(key_node, yaml.ScalarNode):
                raise BlueprintError(
                    "mapping keys must be plain text",
                    Location(self.source.file, mark.line + 1, mark.column + 1, path),
                )
            key = key_node.value
            if key in own_keys:
                first = self.source.positions.get((*path, key), (0, 0))[0]
                raise BlueprintError(
                    f"duplicate key {key!r} (first defined on line {first})",
                    Location(self.source.file, mark.line + 1, mark.column + 1, (*path, key)),
                    hint="YAML would silently keep only the last one; remove one of them",
                )
            own_keys.add(key)
            self.source.positions[(*path, key)] = (mark.line + 1, mark.column + 1)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _merge_sources(self, value: yaml.Node, path: Path) -> list[yaml.MappingNode]:
        items = value.value if isinstance(value, yaml.SequenceNode) else [value]
        if not items or not all(isinstance(item, yaml.MappingNode) for item in items):
            raise self.source.error(
                path,
                "bad merge key: expected a mapping or a list of mappings",
                "write `<<: *anchor` or `<<: [*a, *b]`",
            )
        return list(items)


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document; raise ``BlueprintError`` with a position on any problem."""
    source = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise BlueprintError(
            f"invalid YAML: {exc.problem or exc.context}",
            Location(file, line, column),
            hint="check indentation and quoting around this line",
        ) from None
    except yaml.reader.ReaderError as exc:  # a control character, invalid UTF-8 …
        lines = re.split(r"\r\n|\r|\n", text[: exc.position])
        line, column = len(lines), len(lines[-1]) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        raise BlueprintError(
            f"invalid character {shown} in YAML",
            Location(file, line, column),
            hint="remove control characters; blueprints are UTF-8 text",
        ) from None
    except yaml.YAMLError as exc:
        raise BlueprintError(f"invalid YAML: {exc}", Location(file, 1, 1)) from None
    except (ValueError, RecursionError) as exc:  # e.g. control characters, absurd nesting
        raise BlueprintError(f"invalid YAML: {exc}", Location(file, 1, 1)) from None
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value == ""):
        raise BlueprintError(
            "the blueprint is empty",
            Location(file, 1, 1),
            hint="start from `envctl schema` or blueprints/checkout.yaml",
        )
    try:
        return _Builder(source).build(node, ()), source
    except RecursionError:
        raise BlueprintError("the document is nested too deeply", Location(file, 1, 1)) from None
