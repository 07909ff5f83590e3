"""Blueprint arguments: a path, or a name found under ./blueprints/; and the shell
completion of blueprint names and environment ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

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


# Shell completion (`envctl completion`): called on every Tab, so cheap and silent. ------


def complete_blueprint(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Names of the blueprints under ./blueprints/, and file paths (the shell's own)."""
    from click.shell_completion import CompletionItem

    # "file" first: bash's script resets its list on it, then adds the names after
    items = [CompletionItem(incomplete, type="file")]
    try:
        names = sorted(p.stem for p in Path("blueprints").glob("*.yaml"))
    except OSError:
        names = []
    items += [CompletionItem(name) for name in names if name.startswith(incomplete)]
    return items


def complete_env_id(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The ids of live environments, from the state store (never created by a Tab)."""
    from click.shell_completion import CompletionItem

    rows = _live_records(ctx)
    return [
        CompletionItem(r.id, help=f"{r.blueprint}, {r.status}")
        for r in rows
        if r.id.startswith(incomplete)
    ]


def complete_service(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The services of the environment named earlier on the line (``env_id``)."""
    from click.shell_completion import CompletionItem

    env_id = ctx.params.get("env_id")
    names = {s for r in _live_records(ctx) if r.id == env_id for s in r.services}
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


def _live_records(ctx: click.Context) -> list[Any]:
    from orchestrator.cli.common import App

    try:
        settings = ctx.ensure_object(App).settings
        if not settings.state_db.exists():
            return []
        from orchestrator.state import StateStore

        return list(StateStore(settings.state_db).environments())
    except Exception:  # a Tab must never print a traceback into the command line
        return []
