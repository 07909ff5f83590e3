"""`envctl import compose`: a blueprint from a Docker Compose file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.common import App, pass_app
from orchestrator.exceptions import UsageError

FORMATS = ("text", "json")


def _outputs(ctx: click.Context, _: click.Parameter, values: tuple[str, ...]) -> str | None:
    """`-o` is the format (text, json) as on every command, and also where the blueprint
    goes (a FILE, or - for stdout): `-o json -o shop.yaml` gives both."""
    app = ctx.ensure_object(App)
    places = []
    for value in values:
        if value in FORMATS:
            app.output = value
        else:
            places.append(value)
    if len(places) > 1:
        raise UsageError(
            f"one blueprint file, not {len(places)}: {', '.join(places)}",
            hint="give -o FILE (or -o -) once; -o json/text chooses the format",
        )
    return places[0] if places else None


@click.group(name="import")
def import_() -> None:
    """Blueprints from other tools' descriptions of an environment."""


@import_.command()
@click.argument("file", required=False)
@click.option(
    "-o",
    "--output",
    "out",
    multiple=True,
    is_eager=True,
    callback=_outputs,
    metavar="FILE|-|json|text",
    help="Where the blueprint goes (default: <name>.yaml next to FILE; - prints it), "
    "and/or the result format (json: {blueprint, notes}).",
)
@click.option("--name", help="The blueprint's name (default: the Compose project's).")
@click.option("--force", is_flag=True, help="Overwrite the blueprint file if it exists.")
@pass_app
def compose(app: App, file: str | None, out: str | None, name: str | None, force: bool) -> None:
    """Convert a Docker Compose FILE (default: compose.yaml / docker-compose.yml here).

    Services, images, build contexts, commands, ports, environment (env_file, .env and
    ${VAR} interpolation), depends_on, healthchecks, volumes and resource limits carry
    over; everything else is listed, one line each, on stderr and at the top of the
    blueprint. Literal passwords become secrets generated per environment; values your
    shell gives ${VAR} become ${env.VAR}, never written.
    """
    from orchestrator.importers.compose_import import STDOUT, import_compose

    if out == STDOUT and app.output == "json":
        raise UsageError(
            "-o - prints the blueprint itself on stdout; with -o json, give a file",
            hint="envctl import compose FILE -o json -o blueprint.yaml",
        )
    result = import_compose(
        file, out=out, name=name, force=force, environ=os.environ, cwd=Path.cwd()
    )
    for note in result.notes:
        where = f"{result.compose_file.name}:{note.line}" if note.line else result.compose_file.name
        app.say(f"note: {where}: {note.render()}")
    if result.blueprint_file is None:
        click.echo(result.text, nl=False)
        app.say(_summary(result.to_dict()))
        return
    app.emit(result.to_dict(), _text)


def _summary(data: dict[str, Any]) -> str:
    secrets = data["secrets"]
    kept = f"{len(secrets)} secret{'s' * (len(secrets) != 1)}" if secrets else "no secrets"
    return (
        f"{len(data['services'])} services ({', '.join(data['services'])}), {kept}, "
        f"{len(data['notes'])} notes"
    )


def _text(data: dict[str, Any]) -> str:
    path = data["blueprint"]
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("../..") else path
    return f"wrote {shown}: {_summary(data)}\nnext: envctl validate {shown} && envctl up {shown}"
