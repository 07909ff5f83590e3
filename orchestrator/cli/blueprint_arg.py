"""Blueprint arguments: a path, or a name found under ./blueprints/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.exceptions import UsageError


def resolve(arg: str) -> Path:
    path = Path(arg)
    if path.exists():
        return path
    for candidate in (Path("blueprints") / f"{arg}.yaml", Path(f"{arg}.yaml")):
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"blueprint {arg!r} not found",
        hint="give a path to a blueprint file, or a name under ./blueprints/",
    )


def load(arg: str) -> Any:
    from orchestrator.blueprint.loader import load as load_file

    return load_file(resolve(arg))
