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
from orchestrator.exceptions import ExitCode, ReadinessTimeout, UsageError
from orchestrator.result import RunResult, RunStatus

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
]  # fmt: skip


@pytest.mark.parametrize(("change", "code", "message"), CASES)
def test_which_exit_code_wins(
    change: dict[str, Any], code: ExitCode, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {k: change.pop(k) for k in ("enforce_budget", "fail_under") if k in change}
    result = dataclasses.replace(OK, **change)
    got = run_cmd._exit_code(
        App(), result, options.get("enforce_budget", False), options.get("fail_under")
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
