"""`envctl run`: provision, run suites, tear down, report. Exit code = the suites' result."""

from __future__ import annotations

import sys

import click

from orchestrator.cli import blueprint_arg
from orchestrator.cli.common import App, output_option, pass_app

TIERS = ("critical", "standard", "extended")


@click.command()
@click.argument("blueprint")
@click.option("--runtime", "-r", default="local", show_default=True, help="Where to run.")
@click.option("--tier", multiple=True, type=click.Choice(TIERS), help="Only suites of this tier.")
@click.option("--suite", "-s", "suite_names", multiple=True, help="Only this suite (repeatable).")
@output_option
@pass_app
def run(
    app: App, blueprint: str, runtime: str, tier: tuple[str, ...], suite_names: tuple[str, ...]
) -> None:
    """Run BLUEPRINT's suites in a fresh environment, then tear it all down."""
    from orchestrator.engine import Selection
    from orchestrator.report.text import run_summary
    from orchestrator.result import RunStatus

    loaded = blueprint_arg.load(blueprint)
    result = app.engine().run(
        loaded, runtime, Selection(tier, suite_names), echo_suites=app.output == "text"
    )
    app.emit(result.to_dict(), run_summary)
    if result.status is RunStatus.passed:
        return
    if result.status is RunStatus.failed:
        sys.exit(1)
    if result.exception is not None and hasattr(result.exception, "render"):
        click.echo(app.redactor("envctl: error: " + result.exception.render()), err=True)
    sys.exit(int(getattr(result.exception, "exit_code", 3)))
