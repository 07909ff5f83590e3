"""The text rendering of a run, as people read it in a terminal or CI log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.report.text import run_summary
from orchestrator.result import RunResult, RunStatus, ServiceResult


def result(status: RunStatus, error: dict[str, object] | None = None) -> RunResult:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return RunResult(
        env="shop-abc123",
        blueprint="shop",
        blueprint_file="/x/shop.yaml",
        owner="team",
        tier="critical",
        runtime="local",
        status=status,
        started_at=start,
        finished_at=start + timedelta(seconds=4.2),
        run_dir="/x/runs/shop-abc123",
        services={
            "db": ServiceResult(
                "db",
                "127.0.0.1",
                5432,
                "postgresql://a:***@127.0.0.1:5432/d",
                "15.4",
                "15.18",
                0.8,
                0.1,
            ),
            "payments-provider": ServiceResult(
                "payments-provider",
                "127.0.0.1",
                8080,
                "http://127.0.0.1:8080",
                None,
                None,
                0.2,
                0.1,
            ),
        },
        phases={"provision": 1.0, "teardown": 0.5},
        links=[
            {
                "name": "api-pay",
                "connections_total": 3,
                "bytes": {"upstream": 10, "downstream": 20},
                "injected_delay_ms": {"p50": 120.4, "p99": 430.0},
                "faults_fired": {"latency": 3},
            }
        ],
        warnings=["no suites selected: nothing was tested"],
        error=error,
        leftovers=["process 42"] if error else [],
    )


def test_summary_lines_up_and_flags_drift() -> None:
    text = run_summary(result(RunStatus.passed).to_dict())
    lines = text.splitlines()
    assert lines[0].startswith("PASSED  shop-abc123")
    db = next(line for line in lines if line.strip().startswith("db "))
    pay = next(line for line in lines if "payments-provider" in line)
    assert db.index("postgresql://") == pay.index("http://"), "columns align"
    assert "15.18 (declared 15.4)" in db
    assert "warning: no suites selected" in text
    assert "phases  provision 1.00s · teardown 0.50s" in text
    link = next(line for line in lines if "api-pay" in line)
    assert "3 conns" in link and "delay p50 120.4ms p99 430.0ms" in link
    assert "latency 3x" in link


def test_summary_of_an_error_says_what_was_left() -> None:
    text = run_summary(result(RunStatus.error, {"message": "service 'db': boom"}).to_dict())
    assert text.startswith("ERROR")
    assert "teardown left: process 42" in text
