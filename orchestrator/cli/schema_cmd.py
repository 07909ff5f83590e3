"""`envctl schema`: the blueprint JSON Schema, or its Markdown reference, from the model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orchestrator.cli.common import output_option
from orchestrator.exceptions import UsageError

FORMATS = ("json", "markdown")


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="json: the JSON Schema; markdown: the reference (docs/blueprint-reference.md).",
)
@click.option("--write", "target", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option("--check", "check", type=click.Path(dir_okay=False), help="Fail if FILE is stale.")
@output_option
def schema(fmt: str, target: str | None, check: str | None) -> None:
    """Print the JSON Schema of blueprints (for editors and CI), or its Markdown reference."""
    text = _render(fmt)
    if check:
        current = Path(check).read_text(encoding="utf-8") if Path(check).exists() else ""
        if current != text:
            flag = " --format markdown" if fmt == "markdown" else ""
            click.echo(
                f"{check} is stale: run `make schema` (or `envctl schema{flag} --write {check}`)",
                err=True,
            )
            sys.exit(1)
        click.echo(f"{check} is up to date", err=True)
        return
    if target:
        try:
            Path(target).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot write {target!r}: {exc.strerror or exc}", hint="check the path"
            ) from None
        click.echo(f"wrote {target}", err=True)
        return
    click.echo(text, nl=False)


def _render(fmt: str) -> str:
    if fmt == "markdown":
        from orchestrator.blueprint import reference

        return reference.render()
    from orchestrator.blueprint.schema import render

    return render()
