"""`envctl report [RUN]`: a recorded run as HTML, JUnit XML, Markdown or its JSON.

JUnit comes from the run dir's ``envctl-junit.xml`` when it is there: it was merged
while the run's secrets were known. This process knows none of them (they are not kept
after the environment is gone), so merging the suites' files again is the fallback, for
runs whose file is missing.
"""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.common import App, pass_app
from orchestrator.exceptions import UsageError
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

    # Masked before rendering, not only after: a renderer escapes what it quotes (`<` is
    # `\<` in Markdown), and an escaped secret would slip past a mask of the output.
    data = app.redactor.redact_data(recorded.find(app.settings, run))
    assert isinstance(data, dict)
    chosen = fmt or files.format_for(out)
    text = files.recorded_junit(data) if chosen == "junit" else None
    if text is None:
        text = files.render(data, chosen, files.suite_files(data, app.redactor), app.redactor)
    rendered = app.redactor(text)
    if out is None:
        click.echo(rendered, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write --out {str(out)!r}: {exc.strerror or exc}",
            hint="give --out a file in a directory this user can write",
        ) from exc
    app.say(f"wrote {chosen} report of {data['env']} to {out}")
