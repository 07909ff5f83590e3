"""`envctl cost report` and `envctl cost export` against a ledger filled by the test."""

from __future__ import annotations

import csv
import io
import json
import sys
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import orchestrator.report
from orchestrator.cli.common import App
from orchestrator.cli.main import cli, main
from orchestrator.cost.ledger import Ledger, LedgerRow, default_path
from orchestrator.cost.report import CostReport
from orchestrator.exceptions import BlueprintError, UsageError
from orchestrator.settings import Settings

NOW = datetime.now(UTC)


def row(ago: timedelta, blueprint: str, status: str, usd: float, **extra: Any) -> LedgerRow:
    started = NOW - ago
    fields: dict[str, Any] = {
        "env": f"{blueprint}-{int(ago.total_seconds())}",
        "blueprint": blueprint,
        "owner": "payments-team",
        "tier": "critical",
        "runtime": "local",
        "git_commit": None,
        "started_at": started.isoformat(timespec="microseconds"),
        "finished_at": (started + timedelta(minutes=3)).isoformat(timespec="microseconds"),
        "status": status,
        "cost_usd": usd,
        "cost": {"total_usd": usd, "total": {"cpu_usd": usd / 2, "memory_usd": usd / 2}},
    }
    fields.update(extra)
    return LedgerRow(**fields)


ROWS = [
    row(timedelta(days=40), "checkout", "passed", 100.0),  # outside the default 30 days
    row(timedelta(days=2), "checkout", "failed", 0.5, git_commit="a" * 40),
    row(timedelta(days=1), "checkout", "passed", 0.25, git_commit="b" * 40),
    row(timedelta(hours=3), "search", "passed", 1.0, owner=None, runtime="docker"),
]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    ledger = Ledger(default_path(state))
    for r in ROWS:
        ledger.append(r)
    return state


def envctl(state_dir: Path, *args: str) -> Result:
    app = App(_settings=Settings(state_dir=state_dir))
    return CliRunner().invoke(cli, list(args), obj=app)


def report_json(state_dir: Path, *args: str) -> dict[str, Any]:
    result = envctl(state_dir, "cost", "report", "-o", "json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_report_shows_the_last_30_days_by_blueprint(state_dir: Path) -> None:
    result = envctl(state_dir, "cost", "report")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("envctl cost by blueprint, ")
    assert lines[3].split() == ["search", "1", "1", "0", "0", "$1.00", "57.1%"]
    assert lines[4].split() == ["checkout", "2", "1", "1", "0", "$0.75", "42.9%"]
    assert lines[5].split() == ["TOTAL", "3", "2", "1", "0", "$1.75", "100.0%"]
    assert "defects caught before release: 1" in result.stdout


def test_json_is_the_whole_report(state_dir: Path) -> None:
    data = report_json(state_dir, "--incident-cost", "$25,000")
    assert (data["total_usd"], data["runs"], data["by"]) == (1.75, 3, "blueprint")
    assert [g["name"] for g in data["groups"]] == ["search", "checkout"]
    assert len(data["timeline"]) in (30, 31)  # every day the 30 days touch, zeros included
    assert sum(d["usd"] for d in data["timeline"]) == pytest.approx(1.75)
    [caught] = data["caught"]
    assert (caught["failed_commit"], caught["fixed_commit"]) == ("a" * 40, "b" * 40)
    assert (data["incident_cost_usd"], data["value_usd"]) == (25_000.0, 25_000.0)


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        ("owner", {"(no owner)": 1.0, "payments-team": 0.75}),
        ("tier", {"critical": 1.75}),
        ("runtime", {"docker": 1.0, "local": 0.75}),
    ],
)
def test_the_report_groups_by_any_dimension(
    state_dir: Path, by: str, groups: dict[str, float]
) -> None:
    data = report_json(state_dir, "--by", by)
    assert {g["name"]: g["cost_usd"] for g in data["groups"]} == groups


def test_since_and_until_take_durations_and_dates(state_dir: Path) -> None:
    assert report_json(state_dir, "--since", "12h")["runs"] == 1
    assert report_json(state_dir, "--since", "60d")["total_usd"] == 101.75
    day = (NOW - timedelta(days=1)).date().isoformat()
    data = report_json(state_dir, "--since", "90d", "--until", day)
    assert data["until"] == f"{day}T00:00:00+00:00"
    assert data["total_usd"] == 100.5  # yesterday's run starts after midnight


def test_markdown_is_for_the_step_summary(state_dir: Path) -> None:
    result = envctl(state_dir, "cost", "report", "-o", "markdown", "--by", "owner")
    assert result.exit_code == 0
    assert result.stdout.startswith("### envctl cost: $1.75 over 3 runs\n")
    assert "| (no owner) | 1 | 1 | 0 | 0 | $1.00 | 57.1% |" in result.stdout


def test_html_goes_through_the_html_renderer(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring, whatever the page looks like: a stand-in renderer sees the report."""
    seen: dict[str, Any] = {}

    def render(report: CostReport, *, title: str, generated_at: datetime) -> str:
        seen.update(report=report, title=title, generated_at=generated_at)
        return "<html>stand-in</html>"

    fake = types.ModuleType("orchestrator.report.cost_html")
    fake.render = render  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "orchestrator.report.cost_html", fake)
    monkeypatch.setattr(orchestrator.report, "cost_html", fake, raising=False)
    result = envctl(state_dir, "cost", "report", "-o", "html", "--by", "tier")
    assert result.exit_code == 0, result.output
    assert result.stdout == "<html>stand-in</html>\n"
    assert isinstance(seen["report"], CostReport) and seen["report"].by == "tier"
    assert seen["report"].total_usd == 1.75
    assert seen["title"].startswith("envctl cost report: ") and "by tier" in seen["title"]
    assert seen["generated_at"].tzinfo is not None


def test_html_is_a_whole_page(state_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip(
        "orchestrator.report.cost_html",
        reason="the HTML renderer (orchestrator/report/cost_html.py) is another engineer's",
    )
    out = tmp_path / "cost.html"
    result = envctl(state_dir, "cost", "report", "-o", "html", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert 'data-total-usd="1.75"' in page


def test_out_writes_a_file_and_says_so(state_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    result = envctl(state_dir, "cost", "report", "-o", "markdown", "--out", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert f"wrote {out}" in result.stderr
    assert out.read_text(encoding="utf-8").startswith("### envctl cost: $1.75")


def test_team_budgets_come_from_a_file(state_dir: Path, tmp_path: Path) -> None:
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("teams:\n  payments-team: {monthly_usd: 200}\n")
    data = report_json(state_dir, "--budgets", str(budgets))
    [team] = data["budgets"]
    assert (team["name"], team["kind"], team["monthly_usd"]) == ("payments-team", "team", 200.0)
    assert team["status"] in ("ok", "warn", "exceeded")


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (
            ["--by", "team"],
            "cannot group costs by 'team'",
            "valid: blueprint, owner, tier, runtime",
        ),
        (
            ["--since", "yesterday"],
            "--since 'yesterday' is neither a duration nor a date",
            "e.g. 30d, 12h, 90m, or a date: 2024-10-01 (UTC)",
        ),
        (["--since", "30"], "--since '30' has no unit", None),
        (["--until", "2020-13-01"], "--until '2020-13-01' is neither", None),
        (["--since", "1d", "--until", "2d"], "--since '1d' is not before", None),
        (["--incident-cost", "lots"], "--incident-cost 'lots' is not", None),
        (["--incident-cost", "-5"], "--incident-cost '-5' is not", None),
    ],
)
def test_bad_options_are_usage_errors_with_a_hint(
    state_dir: Path, args: list[str], message: str, hint: str | None
) -> None:
    error = envctl(state_dir, "cost", "report", *args).exception
    assert isinstance(error, UsageError)
    assert error.message.startswith(message)
    assert error.hint is not None
    if hint:
        assert error.hint == hint


def test_a_bad_budgets_file_is_located(state_dir: Path, tmp_path: Path) -> None:
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("teams:\n  payments-team: {monthly: 200}\n")
    result = envctl(state_dir, "cost", "report", "--budgets", str(budgets))
    assert isinstance(result.exception, BlueprintError)
    assert result.exception.location.line == 2


def test_errors_print_one_message_and_no_traceback(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(state_dir))
    with pytest.raises(SystemExit) as exit_:
        main(["cost", "report", "--by", "team"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "envctl: error: cannot group costs by 'team'\n"
        "  hint: valid: blueprint, owner, tier, runtime\n"
    )
    with pytest.raises(SystemExit) as exit_:
        main(["cost", "report", "-o", "json", "--since", "soon"])
    assert exit_.value.code == 2
    out = capsys.readouterr().out
    assert json.loads(out)["error"]["type"] == "UsageError"


def test_export_csv_has_a_line_per_run_in_the_window(state_dir: Path) -> None:
    result = envctl(state_dir, "cost", "export")
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["env"] for r in lines] == [r.env for r in ROWS[1:]]
    assert [float(r["cost_usd"]) for r in lines] == [0.5, 0.25, 1.0]
    assert float(lines[0]["cpu_usd"]) == 0.25
    everything = envctl(state_dir, "cost", "export", "--since", "365d").stdout
    assert everything.count("\n") == 1 + len(ROWS)


def test_export_json_to_a_file_round_trips(state_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    result = envctl(state_dir, "cost", "export", "--format", "json", "--out", str(out))
    assert result.exit_code == 0, result.output
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert [LedgerRow.from_dict(d) for d in exported] == ROWS[1:]


def test_without_a_ledger_there_is_nothing_to_report_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    state = tmp_path / "never"
    result = envctl(state, "cost", "report")
    assert result.exit_code == 0
    assert "no runs recorded in this window" in result.stdout
    assert "no run ledger yet" in result.stderr
    exported = envctl(state, "cost", "export")
    assert exported.stdout.startswith("env,blueprint,")
    assert not state.exists()


def test_cost_is_a_command_of_envctl() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "cost" in result.stdout
    assert "report" in CliRunner().invoke(cli, ["cost", "--help"]).stdout
