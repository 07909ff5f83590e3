"""`envctl run`'s exit code when several things went wrong at once, and the options that
must fail before anything starts (the real runs are in tests/integration/report/)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli import run_cmd
from orchestrator.cli.common import App
from orchestrator.cli.main import main
from orchestrator.exceptions import ExitCode, Interrupted, ReadinessTimeout, UsageError
from orchestrator.result import RunResult, RunStatus
from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "tests" / "integration" / "local" / "blueprints" / "tiny.yaml"  # no profile
NOW = datetime(2026, 1, 1, tzinfo=UTC)
OK = RunResult(
    env="shop-1a2b",
    blueprint="shop",
    blueprint_file="shop.yaml",
    owner=None,
    tier="standard",
    runtime="local",
    status=RunStatus.passed,
    started_at=NOW,
    finished_at=NOW,
    run_dir="/x",
    cost={"total_usd": 1.0, "budget": {"status": "exceeded", "message": "over", "hint": None}},
    fidelity={"overall": 80.0},
)
ERROR = ReadinessTimeout("db", "not ready in 30s")
CASES: list[tuple[dict[str, Any], ExitCode, str]] = [
    ({}, ExitCode.OK, ""),
    ({"status": RunStatus.error, "exception": ERROR, "leftovers": ["x"]}, ExitCode.ENVIRONMENT,
     "not ready in 30s"),
    ({"status": RunStatus.error, "exception": UsageError("bad")}, ExitCode.USAGE, "bad"),
    ({"status": RunStatus.failed, "leftovers": ["x"]}, ExitCode.ENVIRONMENT, ""),
    ({"status": RunStatus.failed}, ExitCode.SUITES_FAILED, ""),
    ({"enforce_budget": True}, ExitCode.BUDGET_EXCEEDED, "over"),
    ({"fail_under": 90.0}, ExitCode.FIDELITY_BELOW_THRESHOLD, "fidelity 80.0 is below"),
    ({"fail_under": 80.0}, ExitCode.OK, ""),
    ({"enforce_budget": True, "fail_under": 90.0}, ExitCode.BUDGET_EXCEEDED, "over"),
    ({"status": RunStatus.failed, "fail_under": 90.0}, ExitCode.SUITES_FAILED, ""),
    ({"fidelity": None, "fail_under": 10.0}, ExitCode.FIDELITY_BELOW_THRESHOLD,
     "no fidelity score was measured"),
    # A --report DIR that could not be written turns only a passing run into 3.
    ({"reports_missing": True}, ExitCode.ENVIRONMENT, ""),
    ({"reports_missing": True, "status": RunStatus.failed}, ExitCode.SUITES_FAILED, ""),
    ({"reports_missing": True, "enforce_budget": True}, ExitCode.BUDGET_EXCEEDED, "over"),
    ({"reports_missing": True, "fail_under": 90.0}, ExitCode.FIDELITY_BELOW_THRESHOLD,
     "fidelity 80.0 is below"),
    ({"reports_missing": True, "status": RunStatus.error, "exception": UsageError("bad")},
     ExitCode.USAGE, "bad"),
    ({"reports_missing": True, "status": RunStatus.error, "exception": Interrupted("SIGTERM")},
     ExitCode.INTERRUPTED, "interrupted by SIGTERM"),
]  # fmt: skip
OPTIONS = ("enforce_budget", "fail_under", "reports_missing")


@pytest.mark.parametrize(("change", "code", "message"), CASES)
def test_which_exit_code_wins(
    change: dict[str, Any], code: ExitCode, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {k: change.pop(k) for k in OPTIONS if k in change}
    result = dataclasses.replace(OK, **change)
    got = run_cmd._exit_code(
        App(),
        result,
        options.get("enforce_budget", False),
        options.get("fail_under"),
        options.get("reports_missing", False),
    )
    assert got is code
    err = capsys.readouterr().err
    assert (message in err) if message else err == ""


def test_fail_under_without_a_profile_fails_before_anything_starts(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(state_dir))
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(TINY), "--fail-under", "50"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "envctl: error: --fail-under needs a fidelity score, and 'tiny' is not audited\n"
        "  hint: give --audit PROFILE, or set `profile: path/to/production.yaml` in the "
        "blueprint\n"
    )
    assert not state_dir.exists()  # no environment, no run recorded


def test_a_report_dir_that_cannot_be_made_fails_before_anything_starts(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(state_dir))
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(TINY), "--report", str(tmp_path / "a-file" / "reports")])
    assert exit_.value.code == 2
    assert "--report" in capsys.readouterr().err
    assert not state_dir.exists()


def test_a_renderer_that_fails_is_an_error_and_never_the_verdict(
    passed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A bug in a renderer: --report DIR is missing (exit 3 if the run passed, said so in
    one message), the step summary only warned."""
    from orchestrator.report import files, markdown

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(files, "render", broken)
    monkeypatch.setattr(markdown, "render", broken)
    summary = tmp_path / "summary.md"
    app = App(_settings=Settings(state_dir=tmp_path, environ={"GITHUB_STEP_SUMMARY": str(summary)}))
    written, missing = run_cmd._write_reports(app, passed, tmp_path / "reports")
    assert missing and written == {}
    err = capsys.readouterr().err
    assert err.startswith("envctl: error: could not render the reports into ")
    assert "RuntimeError: renderer bug" in err and "Traceback" not in err
    assert "could not append to $GITHUB_STEP_SUMMARY" in caplog.text
    assert not summary.exists()


def test_the_summary_names_the_run_dirs_reports_without_report(
    passed: dict[str, Any], tmp_path: Path
) -> None:
    """The engine wrote them; `envctl run` only says where."""
    from orchestrator.report import files

    passed["run_dir"] = str(tmp_path)
    files.write_run_dir(passed, App().redactor)
    written, missing = run_cmd._write_reports(
        App(_settings=Settings(state_dir=tmp_path, environ={})), passed, None
    )
    assert not missing
    assert run_cmd._summary("PASSED", written).splitlines()[-1] == (
        f"report  {tmp_path / 'report.html'} · junit {tmp_path / 'envctl-junit.xml'}"
    )
