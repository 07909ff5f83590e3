"""A converted blueprint as YAML a person reads: a comment block with everything the
conversion could not carry over, short lists and settings in flow style, values with
references quoted, keys in the blueprint reference's order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.importers.notes import Note

SUITES_HINT = """\

# suites:                          # what `envctl run` runs against the environment
#   - name: smoke
#     run: "python -m pytest tests -q"   # sees ENVCTL_<SERVICE>_URL, _HOST, _PORT
"""
FLOW_KEYS = ("ready", "resources")  # small settings read best on one line


class _Flow(dict[str, Any]):
    """A mapping written on one line."""


def render(blueprint: dict[str, Any], notes: Sequence[Note], source: str) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)  # list items indented under their key

    def short_lists(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
        flow = all(isinstance(v, str | int | float) for v in data) and len(str(data)) < 60
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    def flow_mapping(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
        return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)

    def text(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
        # `${db.url}` and `postgres:15` are valid plain YAML, but quoted they read as
        # the strings they are (as in blueprints/checkout.yaml).
        quoted = "${" in data or ":" in data
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"' if quoted else None)

    Dumper.add_representer(list, short_lists)
    Dumper.add_representer(_Flow, flow_mapping)
    Dumper.add_representer(str, text)
    body = yaml.dump(
        _shaped(blueprint),
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return header(notes, source) + body + ("" if "suites" in blueprint else SUITES_HINT)


def _shaped(blueprint: dict[str, Any]) -> dict[str, Any]:
    out = dict(blueprint)
    if "secrets" in out:
        out["secrets"] = {k: _Flow(v) for k, v in out["secrets"].items()}
    out["services"] = {
        name: {k: _Flow(v) if k in FLOW_KEYS else v for k, v in svc.items()}
        for name, svc in blueprint["services"].items()
    }
    return out


def header(notes: Sequence[Note], source: str) -> str:
    lines = [
        f"# Converted from {source} by `envctl import compose` (docs/compose.md).",
        "# Check it against production: image tags are the versions envctl compares.",
        "#",
    ]
    if notes:
        lines.append(f"# Not converted, or converted with a change ({source} line, key):")
        for note in notes:
            where = f"{note.line:>4}" if note.line else "   -"
            lines.append(f"#   {where}  {note.render()}")
    else:
        lines.append("# Everything converted.")
    return "\n".join(lines) + "\n"
