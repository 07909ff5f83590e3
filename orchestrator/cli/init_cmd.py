"""`envctl init`: a new blueprint with a tiny app and a smoke suite that passes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.common import App, output_option, pass_app


@click.command(name="init")
@click.argument("directory", default=".", required=False)
@click.option("--name", help="The blueprint's name (default: the directory's).")
@click.option(
    "--with",
    "with_",
    multiple=True,
    metavar="ENGINES",
    help="Engines to add, comma-separated: postgres, redis.",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@output_option
@pass_app
def init(app: App, directory: str, name: str | None, with_: tuple[str, ...], force: bool) -> None:
    """Scaffold DIRECTORY (default: here): blueprint.yaml, app.py, tests/, pytest.ini.

    `envctl run DIRECTORY/blueprint.yaml` then passes on the local runtime.
    """
    from orchestrator.scaffold import engines_from, scaffold

    done = scaffold(Path(directory), name=name, engines=engines_from(with_), force=force)
    app.emit(done.to_dict(), _text)


def _text(data: dict[str, Any]) -> str:
    where = os.path.relpath(data["directory"])
    shown = [os.path.relpath(f, data["directory"]) for f in data["files"]]
    blueprint = os.path.relpath(data["blueprint"])
    return (
        f"wrote {', '.join(shown)} in {where}/\n"
        f"next: envctl run {blueprint}   (then edit it: the comments say what each key does)"
    )
