"""`envctl validate`: check blueprints without starting anything."""

from __future__ import annotations

import sys
from typing import Any

import click

from orchestrator.cli import blueprint_arg
from orchestrator.cli.common import App, output_option, pass_app
from orchestrator.exceptions import BlueprintError


@click.command()
@click.argument("blueprints", nargs=-1, required=True)
@output_option
@pass_app
def validate(app: App, blueprints: tuple[str, ...]) -> None:
    """Validate BLUEPRINTS: every problem with file:line:column and a hint."""
    results: list[dict[str, Any]] = []
    for arg in blueprints:
        try:
            loaded = blueprint_arg.load(arg)
        except BlueprintError as exc:
            results.append({"file": arg, "valid": False, "errors": _errors(exc)})
            continue
        model = loaded.model
        results.append(
            {
                "file": arg,
                "valid": True,
                "name": model.metadata.name,
                "services": len(model.services),
                "suites": len(model.suites),
                "errors": [],
            }
        )

    def text(_: Any) -> str:
        out = []
        for r in results:
            if r["valid"]:
                out.append(f"ok  {r['file']}: {r['services']} services, {r['suites']} suites")
            else:
                for e in r["errors"]:
                    where = f"{e['file']}:{e['line']}:{e['column']}: {e['key_path']}"
                    out.append(f"{where}: {e['message']}")
                    if e.get("hint"):
                        out.append(f"  hint: {e['hint']}")
        return "\n".join(out)

    app.emit(results, text)
    if not all(r["valid"] for r in results):
        sys.exit(2)


def _errors(exc: BlueprintError) -> list[dict[str, object]]:
    from orchestrator.exceptions import BlueprintErrors

    errors = exc.errors if isinstance(exc, BlueprintErrors) else [exc]
    return [e.as_dict() for e in errors]
