"""The cost report: grouping, the daily timeline, caught defects, budgets, renderers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.cost.ledger import LedgerRow
from orchestrator.cost.report import (
    DIMENSIONS,
    Caught,
    CostReport,
    Group,
    build,
    caught,
    render_markdown,
    render_text,
    rows_needed_since,
    sparkline,
    to_json,
)
from orchestrator.exceptions import UsageError

SINCE = datetime(2024, 10, 1, tzinfo=UTC)
UNTIL = datetime(2024, 10, 6, tzinfo=UTC)  # five days: Oct 1 … Oct 5


def run(
    hours: float,
    status: str = "passed",
    commit: str | None = "c0",
    *,
    blueprint: str = "checkout",
    usd: float = 1.0,
    **extra: Any,
) -> LedgerRow:
    started = SINCE + timedelta(hours=hours)
    fields: dict[str, Any] = {
        "env": f"{blueprint}-{hours:g}",
        "blueprint": blueprint,
        "owner": "payments-team",
        "tier": "critical",
        "runtime": "local",
        "git_commit": commit,
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(minutes=2)).isoformat(),
        "status": status,
        "cost_usd": usd,
    }
    fields.update(extra)
    return LedgerRow(**fields)


def report_of(rows: list[LedgerRow], by: str = "blueprint", **kw: Any) -> CostReport:
    return build(rows, by=by, since=SINCE, until=UNTIL, **kw)


ROWS = [
    run(1, usd=0.5),
    run(2, "failed", usd=0.25),
    run(3, "error", usd=0.125, runtime="docker"),
    run(30, blueprint="search", usd=2.0, owner=None, tier="standard"),
    run(31, blueprint="search", usd=0.0625, owner=None, tier="standard", runtime="docker"),
    run(-5, usd=100.0),  # before the window
    run(5 * 24, usd=100.0),  # at its end: outside
]


def test_runs_are_grouped_by_blueprint_costliest_first() -> None:
    report = report_of(ROWS)
    assert report.groups == [
        Group("search", runs=2, passed=2, failed=0, errored=0, cost_usd=2.0625),
        Group("checkout", runs=3, passed=1, failed=1, errored=1, cost_usd=0.875),
    ]
    assert (report.runs, report.total_usd) == (5, 2.9375)
    assert report.total_usd == sum(g.cost_usd for g in report.groups)
    assert (report.by, report.since, report.until) == (
        "blueprint",
        "2024-10-01T00:00:00+00:00",
        "2024-10-06T00:00:00+00:00",
    )


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("owner", {"payments-team": 0.875, "(no owner)": 2.0625}),
        ("tier", {"critical": 0.875, "standard": 2.0625}),
        ("runtime", {"local": 2.75, "docker": 0.1875}),
    ],
)
def test_runs_group_by_any_dimension(by: str, expected: dict[str, float]) -> None:
    report = report_of(ROWS, by)
    assert {g.name: g.cost_usd for g in report.groups} == expected
    assert [g.cost_usd for g in report.groups] == sorted(expected.values(), reverse=True)


def test_an_unknown_dimension_is_answered_with_the_valid_ones() -> None:
    with pytest.raises(UsageError) as info:
        report_of(ROWS, "team")
    assert info.value.message == "cannot group costs by 'team'"
    assert info.value.hint == "valid: " + ", ".join(DIMENSIONS)


def test_an_empty_window_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="window is empty"):
        build(ROWS, by="blueprint", since=UNTIL, until=SINCE)


def test_the_timeline_has_every_day_of_the_window_zeros_included() -> None:
    report = report_of(ROWS)
    assert report.timeline == [
        ("2024-10-01", 0.875),
        ("2024-10-02", 2.0625),
        ("2024-10-03", 0.0),
        ("2024-10-04", 0.0),
        ("2024-10-05", 0.0),
    ]
    assert report.timeline_by_group["checkout"] == [
        ("2024-10-01", 0.875),
        *((f"2024-10-0{d}", 0.0) for d in range(2, 6)),
    ]
    assert [d for d, _ in report.timeline_by_group["search"]] == [d for d, _ in report.timeline]
    empty = report_of([])
    assert [v for _, v in empty.timeline] == [0.0] * 5 and empty.groups == []
    partial = build(
        [], by="tier", since=SINCE + timedelta(hours=23), until=SINCE + timedelta(hours=25)
    )
    assert [d for d, _ in partial.timeline] == ["2024-10-01", "2024-10-02"]


def test_a_failing_streak_fixed_on_another_commit_is_one_caught_defect() -> None:
    rows = [
        run(1, "passed", "a"),
        run(2, "failed", "b"),
        run(3, "failed", "c"),
        run(4, "passed", "d"),  # fixed: one defect, the streak began at hour 2
        run(5, "passed", "d"),
    ]
    assert caught(rows) == [
        Caught(
            blueprint="checkout",
            failed_env="checkout-2",
            failed_commit="b",
            fixed_env="checkout-4",
            fixed_commit="d",
            failed_at=rows[1].started_at,
        )
    ]


@pytest.mark.parametrize(
    ("runs", "count"),
    [
        ([("failed", "a"), ("passed", "a")], 0),  # flaky: same commit
        ([("failed", "a"), ("failed", "b"), ("passed", "b")], 0),  # passes where it failed
        ([("failed", "a"), ("passed", "b"), ("failed", "b"), ("passed", "c")], 2),
        ([("failed", "a"), ("error", "b"), ("passed", "b")], 1),  # errors are not verdicts
        ([("failed", "a"), ("error", "b")], 0),  # never fixed (yet)
        ([("failed", None), ("passed", "b")], 0),  # cannot tell what changed
        ([("failed", "a"), ("passed", None)], 0),
        ([("passed", "a"), ("passed", "b")], 0),
    ],
)
def test_what_counts_as_a_caught_defect(runs: list[tuple[str, str | None]], count: int) -> None:
    assert len(caught([run(i, s, c) for i, (s, c) in enumerate(runs)])) == count


def test_streaks_are_per_blueprint_and_in_time_order() -> None:
    rows = [
        run(4, "passed", "z", blueprint="search"),
        run(1, "failed", "a", blueprint="checkout"),
        run(2, "failed", "y", blueprint="search"),  # sorted: before search's passes
        run(3, "passed", "a", blueprint="search"),
        run(5, "passed", "b", blueprint="checkout"),
    ]
    found = caught(rows)
    assert [(c.blueprint, c.failed_commit, c.fixed_commit) for c in found] == [
        ("search", "y", "a"),
        ("checkout", "a", "b"),
    ]


def test_the_report_prices_caught_defects_with_the_incident_cost() -> None:
    rows = [run(1, "failed", "a", usd=1.5), run(2, "passed", "b", usd=0.5)]
    report = report_of(rows, incident_cost_usd=25_000.0)
    assert len(report.caught) == 1 and report.value_usd == 25_000.0
    assert report_of(rows).value_usd is None
    text = render_text(report)
    assert "defects caught before release: 1" in text
    assert "worth $25,000.00 at $25,000.00 per incident avoided (1 caught)" in text
    assert "against $2.00 spent, 12,500x the spend" in text


def test_budgets_of_teams_and_of_blueprints_are_checked_for_the_month() -> None:
    now = datetime(2024, 10, 15, tzinfo=UTC)
    rows = [
        run(24 * 13, usd=150.0),  # Oct 14, payments-team's checkout
        run(24 * 13, blueprint="search", owner="s", usd=1.0),
        # what `envctl run` recorded of the blueprint's budget: RunCost.budget
        run(24 * 13 + 1, blueprint="search", owner="s", usd=1.0,
            cost={"budget": {"monthly_usd": 100.0}}),
    ]  # fmt: skip
    report = build(
        rows,
        by="blueprint",
        since=now - timedelta(days=1),
        until=now,
        budgets={"payments-team": 200.0, "idle-team": 10.0},
    )
    by_name = {b["name"]: b for b in report.budgets}
    assert by_name["payments-team"]["kind"] == "team"
    assert by_name["payments-team"]["month_to_date_usd"] == 150.0
    assert by_name["payments-team"]["status"] == "warn"  # on track for far more than 200
    assert by_name["idle-team"]["status"] == "ok"
    assert by_name["search"] == {
        "name": "search",
        "kind": "blueprint",
        "monthly_usd": 100.0,
        "month_to_date_usd": 2.0,
        "projected_usd": pytest.approx(2.0 + 2.0 / 7 * 17),
        "status": "ok",
        "message": by_name["search"]["message"],
    }
    assert rows_needed_since(now - timedelta(days=1), now) == datetime(2024, 10, 1, tzinfo=UTC)
    assert rows_needed_since(now, datetime(2024, 10, 3, tzinfo=UTC)) == datetime(
        2024, 9, 26, tzinfo=UTC
    )


def test_text_is_a_table_with_shares_and_totals() -> None:
    text = render_text(report_of(ROWS))
    lines = text.splitlines()
    assert lines[0] == "envctl cost by blueprint, 2024-10-01 00:00 → 2024-10-06 00:00 UTC"
    assert lines[2].split() == ["BLUEPRINT", "RUNS", "PASSED", "FAILED", "ERRORED", "COST", "SHARE"]
    assert lines[3].split() == ["search", "2", "2", "0", "0", "$2.06", "70.2%"]
    assert lines[4].split() == ["checkout", "3", "1", "1", "1", "$0.875", "29.8%"]
    assert lines[5].split() == ["TOTAL", "5", "3", "1", "1", "$2.94", "100.0%"]
    assert len({len(line) for line in lines[2:6]}) == 1  # aligned columns
    assert "daily spend: ▄█···  (peak $2.06, 2024-10-02)" in text
    assert "no runs recorded in this window" in render_text(report_of([]))


def test_markdown_is_a_github_table_with_names_escaped() -> None:
    rows = [run(1, owner="pay|ments <team>", usd=0.5), run(2, owner=None, usd=0.5)]
    md = render_markdown(report_of(rows, "owner", incident_cost_usd=1000.0))
    lines = md.splitlines()
    assert lines[0] == "### envctl cost: $1.00 over 2 runs"
    assert "| owner | runs | passed | failed | errored | cost | share |" in lines
    assert "| --- | ---: | ---: | ---: | ---: | ---: | ---: |" in lines
    assert "| pay\\|ments \\<team\\> | 1 | 1 | 0 | 0 | $0.50 | 50.0% |" in lines
    assert "| **total** | **2** | **2** | **0** | **0** | **$1.00** | **100%** |" in lines
    assert "**Defects caught before release: 0**" in lines
    assert md.endswith("\n")


def test_json_carries_everything_with_days_as_objects() -> None:
    report = report_of(ROWS, incident_cost_usd=100.0)
    data = json.loads(to_json(report))
    assert data["total_usd"] == 2.9375 and data["runs"] == 5 and data["currency"] == "USD"
    assert data["groups"][0] == {
        "name": "search",
        "runs": 2,
        "passed": 2,
        "failed": 0,
        "errored": 0,
        "cost_usd": 2.0625,
    }
    assert data["timeline"][0] == {"day": "2024-10-01", "usd": 0.875}
    assert len(data["timeline_by_group"]["search"]) == 5
    assert (data["incident_cost_usd"], data["value_usd"], data["caught"]) == (100.0, 0.0, [])
    assert data == report.to_dict()


def test_sparkline_marks_days_without_spend() -> None:
    assert sparkline([("a", 0.0), ("b", 1.0), ("c", 8.0)]) == "·▁█"
    assert sparkline([("a", 0.0)]) == "·"
