"""`envctl run`: provision, run suites, tear down, report. Exit code = the run's verdict.

Reports are written before the exit code is decided, so a failed or errored run has
them too: the engine keeps ``report.html`` and ``envctl-junit.xml`` in the run dir of
every run; here the four formats go into ``--report DIR``, and the Markdown is appended
to ``$GITHUB_STEP_SUMMARY`` when CI sets it. A report that cannot be written never
hides a verdict: it turns only a passing run (0) into 3.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli import blueprint_arg
from orchestrator.cli.common import App, output_option, pass_app, secrets_file_option
from orchestrator.exceptions import EnvctlError, ExitCode, UsageError
from orchestrator.runtime import registry

if TYPE_CHECKING:
    from orchestrator.result import RunResult

log = logging.getLogger(__name__)

TIERS = ("critical", "standard", "extended")
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


@click.command()
@click.argument("blueprint", shell_complete=blueprint_arg.complete_blueprint)
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
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 100),
    metavar="N",
    help="Exit 5 when the suites passed but the live fidelity score (0-100) is below N; "
    "needs a profile (--audit, or the blueprint's `profile:`).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write report.json, junit.xml, report.md and report.html into this directory "
    "(also when the run fails; exit 3 if they cannot be, when the run would pass).",
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
    fail_under: float | None,
    report_dir: Path | None,
) -> None:
    """Run BLUEPRINT's suites in a fresh environment, then tear it all down."""
    from orchestrator.engine import Selection
    from orchestrator.report.text import run_summary

    registry.check_public(runtime)
    loaded = blueprint_arg.load(blueprint)
    if fail_under is not None and audit_profile is None and not loaded.model.profile:
        raise UsageError(
            f"--fail-under needs a fidelity score, and {loaded.name!r} is not audited",
            hint="give --audit PROFILE, or set `profile: path/to/production.yaml` in the blueprint",
        )
    if report_dir is not None:
        _ensure_dir(report_dir)  # a bad --report fails before anything starts
    result = app.engine().run(
        loaded,
        runtime,
        Selection(tier, suite_names),
        echo_suites=app.output == "text",
        audit=audit_profile,
    )
    data = app.redactor.redact_data(result.to_dict())
    assert isinstance(data, dict)
    written, reports_missing = _write_reports(app, data, report_dir)
    app.emit(data, lambda shown: _summary(run_summary(shown), written))
    sys.exit(int(_exit_code(app, result, enforce_budget, fail_under, reports_missing)))


def _exit_code(
    app: App,
    result: RunResult,
    enforce_budget: bool,
    fail_under: float | None,
    reports_missing: bool = False,
) -> ExitCode:
    """The one exit code, and the message for it: an envctl error (2/3, 130 interrupted),
    then leftovers (3), failed suites (1), over budget (4), fidelity below the threshold
    (5); a run that passed all of them is 3 when its ``--report DIR`` is missing (CI
    asked for reports it will not find), else 0."""
    from orchestrator.result import RunStatus

    if isinstance(result.exception, EnvctlError):
        _error(app, result.exception.render())
        return result.exception.exit_code
    if result.leftovers:  # the suites' verdict stands, but CI must hear about leftovers
        return ExitCode.ENVIRONMENT
    if result.status is RunStatus.failed:
        return ExitCode.SUITES_FAILED
    budget = (result.cost or {}).get("budget") or {}
    if enforce_budget and budget.get("status") == "exceeded":
        _error(app, str(budget["message"]), budget.get("hint"))
        return ExitCode.BUDGET_EXCEEDED
    if fail_under is not None:
        overall = (result.fidelity or {}).get("overall")
        if not isinstance(overall, int | float):
            _error(app, f"no fidelity score was measured; --fail-under {fail_under:g} needs one")
            return ExitCode.FIDELITY_BELOW_THRESHOLD
        if overall < fail_under:
            _error(
                app,
                f"fidelity {overall:.1f} is below --fail-under {fail_under:g}",
                f"every difference is in the run's report: {result.run_dir}/report.html "
                "(or `fidelity` in its JSON)",
            )
            return ExitCode.FIDELITY_BELOW_THRESHOLD
    return ExitCode.ENVIRONMENT if reports_missing else ExitCode.OK


def _write_reports(
    app: App, data: dict[str, Any], report_dir: Path | None
) -> tuple[dict[str, Path], bool]:
    """The reports this command owes on top of the run dir's (the engine wrote those),
    and whether ``--report DIR`` is missing: an error, as CI will look for it. The step
    summary is a convenience: a failure there is a warning."""
    from orchestrator.report import files, markdown

    written, missing = files.in_run_dir(data), False
    if report_dir is not None:
        try:
            suite_junit = files.suite_files(data, app.redactor)
            written = files.write(data, report_dir, files.FILE_NAMES, suite_junit, app.redactor)
        except OSError as exc:
            missing = True
            _error(
                app,
                f"could not write the reports into {str(report_dir)!r}: {exc}",
                "give --report a directory this user can write",
            )
        except Exception as exc:  # a renderer's bug: the verdict stands, the reports are not
            missing = True
            _error(
                app,
                f"could not render the reports into {str(report_dir)!r}: "
                f"{type(exc).__name__}: {exc}",
                f"this is a bug in envctl; the run itself is in {data['run_dir']}/result.json",
            )
    summary = app.settings.environ.get(STEP_SUMMARY)
    if summary:
        try:
            files.append_step_summary(Path(summary), app.redactor(markdown.render(data)))
        except Exception as exc:  # unwritable, or a renderer's bug: never the verdict
            log.warning(
                "could not append to $%s (%s): %s: %s",
                STEP_SUMMARY,
                summary,
                type(exc).__name__,
                exc,
            )
    return written, missing


def _summary(text: str, written: dict[str, Path]) -> str:
    """The text summary, its last line where the report and JUnit went: ``--report DIR``
    when given, else the run dir."""
    if "html" not in written:
        return text
    line = f"report  {written['html']}"
    if "junit" in written:
        line += f" · junit {written['junit']}"
    return f"{text}\n{line}"


def _ensure_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--report {str(path)!r} cannot be created: {exc.strerror or exc}",
            hint="give a directory this user can write",
        ) from exc


def _error(app: App, message: str, hint: str | None = None) -> None:
    """One message (and a hint) on stderr, as main prints errors: never a secret."""
    text = f"envctl: error: {message}" + (f"\n  hint: {hint}" if hint else "")
    click.echo(app.redactor(text), err=True)
