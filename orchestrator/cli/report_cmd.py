"""`envctl report [RUN]`: a recorded run as HTML, JUnit XML, Markdown or its JSON."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.common import App, pass_app
from orchestrator.report.files import FORMATS


@click.command(name="report")
@click.argument("run", required=False, metavar="[RUN]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="What to render (default: from --out's extension, .xml junit, .md markdown, "
    ".json json; else html).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of stdout.",
)
@pass_app
def report(app: App, run: str | None, fmt: str | None, out: Path | None) -> None:
    """Render RUN, an env id of a finished run or a path to its result.json (default:
    the most recent run)."""
    from orchestrator.report import files, recorded

    data = recorded.find(app.settings, run)
    chosen = fmt or files.format_for(out)
    rendered = app.redactor(files.render(data, chosen, files.suite_files(data, app.redactor)))
    if out is None:
        click.echo(rendered, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(rendered, encoding="utf-8")
    app.say(f"wrote {chosen} report of {data['env']} to {out}")
