"""`envctl`: the group, global options, and the one place errors become exit codes."""

from __future__ import annotations

import json
import sys

import click

from orchestrator.cli import (
    audit_cmd,
    completion_cmd,
    cost_cmd,
    down_cmd,
    fault_cmd,
    gc_cmd,
    import_cmd,
    init_cmd,
    logs_cmd,
    ls_cmd,
    profile_cmd,
    proxy_cmd,
    report_cmd,
    run_cmd,
    schema_cmd,
    status_cmd,
    up_cmd,
    validate_cmd,
)
from orchestrator.cli.common import PROGRESS_MODES, App, configure_logging
from orchestrator.exceptions import EnvctlError, ExitCode


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Also each service's own output, prefixed by its name, and info logs (-vv: debug logs).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors.")
@click.option(
    "--progress",
    "progress_mode",
    type=click.Choice(PROGRESS_MODES),
    default="auto",
    show_default=True,
    envvar="ENVCTL_PROGRESS",
    help="live: a table redrawn in place; plain: timestamped lines; "
    "auto: live when stderr is a terminal.",
)
@click.version_option(package_name="envctl")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, progress_mode: str) -> None:
    """Ephemeral, production-like test environments.

    \b
    Exit codes: 0 passed · 1 suites failed · 2 bad input (blueprint, options)
                3 environment error (or teardown left something) · 4 over budget
                (run --enforce-budget) · 5 fidelity below threshold (--fail-under)
                130 interrupted
    """
    app = ctx.ensure_object(App)
    app.verbose, app.quiet, app.progress_mode = verbose, quiet, progress_mode
    configure_logging(app)


for command in (
    run_cmd.run,
    up_cmd.up,
    down_cmd.down,
    fault_cmd.fault,
    ls_cmd.ls,
    status_cmd.status,
    logs_cmd.logs,
    proxy_cmd.proxy,
    validate_cmd.validate,
    schema_cmd.schema,
    gc_cmd.gc,
    cost_cmd.cost,
    profile_cmd.profile,
    audit_cmd.audit,
    report_cmd.report,
    init_cmd.init,
    import_cmd.import_,
    completion_cmd.completion,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    app = App()
    try:
        try:
            # prog_name: `python -m orchestrator` is envctl too (and _ENVCTL_COMPLETE works)
            code = cli.main(args=argv, prog_name="envctl", standalone_mode=False, obj=app)
        finally:
            app.close_progress()  # a live view ends before any error is printed
    except EnvctlError as exc:
        _report(app, exc)
        sys.exit(int(exc.exit_code))
    except click.exceptions.Abort:
        click.echo("envctl: aborted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _report(app: App, exc: EnvctlError) -> None:
    if app.output == "json":
        click.echo(json.dumps(app.redactor.redact_data({"error": exc.as_dict()}), indent=2))
    click.echo(app.redactor("envctl: error: " + exc.render()), err=True)
