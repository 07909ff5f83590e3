"""Budgets: per-run and monthly verdicts, the month's projection, team budget files."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.cost.budget import BudgetStatus, Level, check, load_team_budgets, usd
from orchestrator.cost.ledger import LedgerRow
from orchestrator.exceptions import BlueprintError, UsageError

NOW = datetime(2024, 10, 15, 12, 0, tzinfo=UTC)  # October: 31 days, 16.5 days left


def spent(when: datetime, usd_: float) -> LedgerRow:
    return LedgerRow(
        env=f"e-{when.isoformat()}",
        blueprint="checkout",
        owner="payments-team",
        tier="critical",
        runtime="local",
        git_commit=None,
        started_at=when.isoformat(),
        finished_at=when.isoformat(),
        status="passed",
        cost_usd=usd_,
    )


@pytest.mark.parametrize(
    ("cost", "level"),
    [(0.79, Level.ok), (0.80, Level.warn), (1.0, Level.warn), (1.01, Level.exceeded)],
)
def test_a_run_warns_from_80_percent_of_its_budget_and_exceeds_above_it(
    cost: float, level: Level
) -> None:
    status = check(cost, 1.0, None, [], NOW)
    assert status.status is level
    if level is Level.ok:
        assert status.message == f"within budget: this run {usd(cost)} of $1.00 per run"
        assert status.hint is None
    else:
        assert f"this run cost {usd(cost)}" in status.message and "$1.00" in status.message
        assert status.hint is not None and "budget.per_run_usd" in status.hint
    assert status.exceeded is (level is Level.exceeded)


def test_the_month_to_date_counts_this_month_and_this_run_only() -> None:
    rows = [
        spent(datetime(2024, 9, 30, 23, 0, tzinfo=UTC), 100.0),  # last month
        spent(datetime(2024, 10, 1, 0, 0, tzinfo=UTC), 2.0),
        spent(datetime(2024, 10, 14, 9, 0, tzinfo=UTC), 3.0),
        spent(NOW + timedelta(hours=1), 50.0),  # after now: not yet
    ]
    status = check(1.0, None, 1000.0, rows, NOW)
    assert status.month_to_date_usd == 6.0
    assert status.status is Level.ok


def test_the_projection_is_month_to_date_plus_the_last_weeks_daily_average() -> None:
    rows = [
        spent(datetime(2024, 10, 2, tzinfo=UTC), 10.0),  # before the week: to date only
        spent(NOW - timedelta(days=6), 3.0),
        spent(NOW - timedelta(days=1), 3.0),
    ]
    status = check(1.0, None, 1000.0, rows, NOW)
    assert status.month_to_date_usd == 17.0
    assert status.projected_usd == pytest.approx(17.0 + (3 + 3 + 1) / 7 * 16.5)


def test_early_in_a_month_the_projection_averages_over_the_days_there_are() -> None:
    now = datetime(2024, 10, 3, 0, 0, tzinfo=UTC)  # two days of October, 29 left
    status = check(2.0, None, 1000.0, [spent(datetime(2024, 10, 1, 6, tzinfo=UTC), 2.0)], now)
    assert status.projected_usd == pytest.approx(4.0 + 4.0 / 2 * 29)
    very_early = datetime(2024, 10, 1, 1, 0, tzinfo=UTC)  # one run, an hour in: one day
    first = check(1.0, None, 1000.0, [], very_early)
    assert first.projected_usd == pytest.approx(1.0 + 1.0 * (31 - 1 / 24))
    # rows from the week before the month: a whole week to average over
    rows = [spent(datetime(2024, 9, 28, tzinfo=UTC), 7.0)]
    status = check(0.0, None, 1000.0, rows, now)
    assert status.month_to_date_usd == 0.0
    assert status.projected_usd == pytest.approx(7.0 / 7 * 29)  # not / 5 days


def test_a_monthly_budget_warns_at_80_percent_or_when_on_track_to_exceed() -> None:
    rows = [spent(NOW - timedelta(days=1), 79.0)]
    assert check(1.0, None, 100.0, rows, NOW).status is Level.warn  # 80 of 100
    exceeded = check(22.0, None, 100.0, rows, NOW)
    assert exceeded.status is Level.exceeded
    assert exceeded.message == (
        "$101.00 spent this month, over the monthly budget of $100.00 (101%)"
    )
    assert exceeded.hint is not None and "envctl cost report" in exceeded.hint
    on_track = check(1.0, None, 100.0, [spent(NOW - timedelta(days=1), 34.0)], NOW)
    assert on_track.month_to_date_usd == 35.0  # 35% spent, but $35 a week for 16.5 days
    assert on_track.projected_usd == pytest.approx(35 + 35 / 7 * 16.5)
    assert on_track.status is Level.warn
    assert on_track.message == (
        "on track for $117.50 this month, over the monthly budget of $100.00 ($35.00 so far)"
    )


def test_the_worst_verdict_wins_and_every_finding_is_said() -> None:
    status = check(5.0, 1.0, 4.0, [], NOW)
    assert status.status is Level.exceeded
    assert "per-run budget of $1.00" in status.message
    assert "over the monthly budget of $4.00" in status.message
    assert status.to_dict() == {
        "status": "exceeded",
        "message": status.message,
        "hint": status.hint,
        "cost_usd": 5.0,
        "per_run_usd": 1.0,
        "monthly_usd": 4.0,
        "month_to_date_usd": 5.0,
        "projected_usd": round(status.projected_usd, 8),
    }


def test_without_a_budget_the_status_is_ok_and_says_so() -> None:
    status = check(0.25, None, None, [], NOW)
    assert isinstance(status, BudgetStatus)
    assert (status.status, status.message) == (Level.ok, "no budget set; this run cost $0.25")
    assert check(0.0, 0.0, 0.0, [], NOW).status is Level.ok  # nothing spent of nothing


def test_usd_shows_cents_or_three_significant_digits() -> None:
    assert [usd(x) for x in (0, 1234.5, 1.0, 0.5, 0.0123, 0.000312)] == [
        "$0",
        "$1,234.50",
        "$1.00",
        "$0.50",
        "$0.0123",
        "$0.000312",
    ]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_team_budgets_load_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        teams:
          payments-team: {monthly_usd: 200}
          search:
            monthly_usd: 12.5
        """,
    )
    assert load_team_budgets(path) == {"payments-team": 200.0, "search": 12.5}


@pytest.mark.parametrize(
    ("text", "line", "key_path", "message", "hint"),
    [
        (
            "teams:\n  payments-team:\n    monthly: 200\n",
            3,
            "teams.payments-team.monthly",
            "'monthly' has no unit",
            "give the unit: monthly_usd (per-run budgets belong in the blueprint)",
        ),
        (
            "teams:\n  a: {monthly_usd: lots}\n",
            2,
            "teams.a.monthly_usd",
            "team 'a' needs monthly_usd as a number, got 'lots'",
            "e.g. `monthly_usd: 200`",
        ),
        (
            "teams:\n  a: {monthly_usd: -5}\n",
            2,
            "teams.a.monthly_usd",
            "a budget must be ≥ 0, got -5",
            None,
        ),
        ("team:\n  a: {monthly_usd: 1}\n", 1, "team", "unknown key 'team'", "valid: teams"),
        ("teams: [a]\n", 1, "teams", "teams must map team names to budgets", None),
        ("# nothing\n", 1, "(document)", "the budgets file is empty", None),
    ],
)
def test_a_bad_budgets_file_is_rejected_at_its_line(
    tmp_path: Path, text: str, line: int, key_path: str, message: str, hint: str | None
) -> None:
    with pytest.raises(BlueprintError) as info:
        load_team_budgets(write(tmp_path, text))
    err = info.value
    assert (err.location.line, err.location.key_path, err.message) == (line, key_path, message)
    if hint:
        assert err.hint == hint


def test_a_missing_budgets_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read budgets file"):
        load_team_budgets(tmp_path / "nope.yaml")
