"""`envctl run`: provision, run suites, tear down, report. Exit code = the suites' result."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orchestrator.cli import blueprint_arg
from orchestrator.cli.common import App, output_option, pass_app, secrets_file_option
from orchestrator.exceptions import EnvctlError, ExitCode
from orchestrator.runtime import registry

TIERS = ("critical", "standard", "extended")


@click.command()
@click.argument("blueprint")
@click.option("--runtime", "-r", default="local", show_default=True, help="Where to run.")
@click.option("--tier", multiple=True, type=click.Choice(TIERS), help="Only suites of this tier.")
@click.option("--suite", "-s", "suite_names", multiple=True, help="Only this suite (repeatable).")
@click.option(
    "--audit",
    "audit_profile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Audit the live environment against this production profile before the suites "
    "(default: the blueprint's `profile:`); the score is recorded on the run.",
)
@click.option(
    "--enforce-budget",
    is_flag=True,
    help="Exit 4 when the run exceeds the blueprint's budget (default: a warning).",
)
@secrets_file_option
@output_option
@pass_app
def run(
    app: App,
    blueprint: str,
    runtime: str,
    tier: tuple[str, ...],
    suite_names: tuple[str, ...],
    audit_profile: Path | None,
    enforce_budget: bool,
) -> None:
    """Run BLUEPRINT's suites in a fresh environment, then tear it all down."""
    from orchestrator.engine import Selection
    from orchestrator.report.text import run_summary
    from orchestrator.result import RunStatus

    registry.check_public(runtime)
    loaded = blueprint_arg.load(blueprint)
    result = app.engine().run(
        loaded,
        runtime,
        Selection(tier, suite_names),
        echo_suites=app.output == "text",
        audit=audit_profile,
    )
    app.emit(result.to_dict(), run_summary)
    if isinstance(result.exception, EnvctlError):
        click.echo(app.redactor("envctl: error: " + result.exception.render()), err=True)
        sys.exit(int(result.exception.exit_code))
    if result.leftovers:  # the suites' verdict stands, but CI must hear about leftovers
        sys.exit(int(ExitCode.ENVIRONMENT))
    if result.status is RunStatus.failed:
        sys.exit(int(ExitCode.SUITES_FAILED))
    budget = (result.cost or {}).get("budget") or {}
    if enforce_budget and budget.get("status") == "exceeded":
        click.echo(f"envctl: error: {budget['message']}", err=True)
        if budget.get("hint"):
            click.echo(f"  hint: {budget['hint']}", err=True)
        sys.exit(int(ExitCode.BUDGET_EXCEEDED))
