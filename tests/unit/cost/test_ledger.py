"""The run ledger: rows from run summaries, concurrent appends, queries, exports, git."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchestrator import suites as suite_results
from orchestrator.cost.ledger import (
    CSV_COLUMNS,
    Ledger,
    LedgerRow,
    default_path,
    git_commit,
    row_from_summary,
)
from orchestrator.cost.model import Charge, RunCost, ServiceUsage, Usage
from orchestrator.exceptions import StateError, UsageError
from orchestrator.result import RunResult, RunStatus
from orchestrator.settings import Settings
from orchestrator.suites import SuiteResult, SuiteStatus

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)


def row(
    i: int, *, blueprint: str = "checkout", status: str = "passed", **extra: object
) -> LedgerRow:
    started = T0 + timedelta(hours=i)
    fields: dict[str, object] = {
        "env": f"checkout-{i:04d}",
        "blueprint": blueprint,
        "owner": "payments-team",
        "tier": "critical",
        "runtime": "local",
        "git_commit": f"{i:040x}",
        "started_at": started.isoformat(timespec="microseconds"),
        "finished_at": (started + timedelta(seconds=90 + i)).isoformat(timespec="microseconds"),
        "status": status,
        "cost_usd": 0.001 * i + 1e-7,
        "cost": {
            "total_usd": 0.001 * i + 1e-7,
            "total": {"cpu_usd": 0.0007 * i, "memory_usd": 0.0003 * i, "runner_usd": 1e-7},
        },
        "phases": {"provision": 1.5, "suites": float(i)},
        "suites": [{"name": "api", "tier": "critical", "status": status, "seconds": 2.0}],
        "failures": 0 if status == "passed" else 1,
    }
    fields.update(extra)
    return LedgerRow(**fields)  # type: ignore[arg-type]


def test_the_ledger_lives_in_the_state_dir(tmp_path: Path) -> None:
    assert default_path(tmp_path) == tmp_path / "ledger.db"
    assert Settings(state_dir=tmp_path).ledger_db == default_path(tmp_path)


def test_rows_come_back_as_appended_oldest_first_and_filtered(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    written = [row(3), row(1, blueprint="search", status="failed"), row(2)]
    for r in written:
        ledger.append(r)
    assert ledger.rows() == [written[1], written[2], written[0]]
    since, until = T0 + timedelta(hours=2), T0 + timedelta(hours=3)
    assert ledger.rows(since=since) == [written[2], written[0]]  # since is inclusive
    assert ledger.rows(since=since, until=until) == [written[2]]  # until is not
    assert ledger.rows(blueprint="search") == [written[1]]
    # a time in another zone is the same instant
    local = since.astimezone(timezone(timedelta(hours=-5)))
    assert ledger.rows(since=local) == [written[2], written[0]]


def test_a_row_is_built_from_a_run_summary(tmp_path: Path) -> None:
    counts = suite_results.TestCounts(total=10, failures=2, errors=1, skipped=0)
    suites = [
        SuiteResult("api", "critical", SuiteStatus.failed, 1, 3.2, None, counts, tmp_path / "a"),
        SuiteResult("smoke", "standard", SuiteStatus.timeout, None, 60.0, None, None, tmp_path),
        SuiteResult("ok", "standard", SuiteStatus.passed, 0, 1.0, None, None, tmp_path / "ok"),
    ]
    result = RunResult(
        env="checkout-7f3a",
        blueprint="checkout",
        blueprint_file="blueprints/checkout.yaml",
        owner="payments-team",
        tier="critical",
        runtime="local",
        status=RunStatus.failed,
        started_at=datetime(2024, 10, 1, 14, 0, tzinfo=UTC).astimezone(),
        finished_at=datetime(2024, 10, 1, 14, 2, tzinfo=UTC),
        run_dir=str(tmp_path),
        suites=suites,
        phases={"provision": 4.0, "suites": 64.2},
    )
    summary = result.to_dict()
    unmetered = row_from_summary(summary, None)
    assert unmetered.cost_usd == 0 and unmetered.cost == {}
    assert unmetered.started_at == "2024-10-01T14:00:00.000000+00:00"  # stored in UTC
    assert unmetered.failures == 2 + 1 + 1  # failures + errors, and a timeout without JUnit
    assert unmetered.suites[0] == {
        "name": "api",
        "tier": "critical",
        "status": "failed",
        "exit_code": 1,
        "seconds": 3.2,
        "tests": {"total": 10, "failures": 2, "errors": 1, "skipped": 0},
    }
    assert all("log" not in s for s in unmetered.suites)

    cost = RunCost(
        {"db": {"suites": Charge(cpu_usd=0.5, memory_usd=0.25)}},
        {"db": ServiceUsage("db", {"suites": Usage(seconds=60)})},
        {},
    )
    metered = row_from_summary({**summary, "cost": cost.to_dict()}, "a" * 40)
    assert (metered.cost_usd, metered.git_commit) == (0.75, "a" * 40)
    assert metered.cost["by_service"]["db"]["cpu_usd"] == 0.5
    assert (metered.env, metered.owner, metered.tier, metered.status) == (
        "checkout-7f3a",
        "payments-team",
        "critical",
        "failed",
    )
    assert metered.phases == {"provision": 4.0, "suites": 64.2}
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.append(metered)
    assert ledger.rows() == [metered]


def test_an_incomplete_summary_is_a_clear_error() -> None:
    with pytest.raises(StateError, match="summary is incomplete"):
        row_from_summary({"blueprint": "x"}, None)


WRITER = """
import sys, time
from pathlib import Path
from orchestrator.cost.ledger import Ledger, LedgerRow
path, go, i = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
Ledger(path).append(LedgerRow(
    env=f"env-{i}", blueprint=f"bp-{i % 3}", owner=f"team-{i}", tier="standard",
    runtime="local", git_commit=f"{i:040x}",
    started_at=f"2024-10-01T12:00:{i:02d}.000000+00:00",
    finished_at=f"2024-10-01T12:01:{i:02d}.000000+00:00",
    status="passed" if i % 2 else "failed", cost_usd=i + 0.5,
    cost={"total_usd": i + 0.5, "by_service": {f"svc-{i}": {"cpu_usd": i}}},
    phases={"suites": float(i)}, suites=[{"name": f"suite-{i}", "n": [i] * 50}], failures=i,
))
"""


def test_ten_processes_appending_at_once_lose_and_tear_nothing(tmp_path: Path) -> None:
    path, go = tmp_path / "state" / "ledger.db", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(go), str(i)], env=env)
        for i in range(10)
    ]
    time.sleep(0.5)  # let them all import and wait, so they open the new file together
    go.touch()
    assert [p.wait(timeout=60) for p in procs] == [0] * 10
    rows = Ledger(path).rows()
    assert len(rows) == 10
    for r in rows:
        i = int(r.env.removeprefix("env-"))
        assert r == LedgerRow(
            env=f"env-{i}",
            blueprint=f"bp-{i % 3}",
            owner=f"team-{i}",
            tier="standard",
            runtime="local",
            git_commit=f"{i:040x}",
            started_at=f"2024-10-01T12:00:{i:02d}.000000+00:00",
            finished_at=f"2024-10-01T12:01:{i:02d}.000000+00:00",
            status="passed" if i % 2 else "failed",
            cost_usd=i + 0.5,
            cost={"total_usd": i + 0.5, "by_service": {f"svc-{i}": {"cpu_usd": i}}},
            phases={"suites": float(i)},
            suites=[{"name": f"suite-{i}", "n": [i] * 50}],
            failures=i,
        )
    assert sorted(r.env for r in rows) == sorted(f"env-{i}" for i in range(10))


def test_csv_export_has_one_flat_line_per_run_that_reads_back(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    written = [row(1), row(2, status="failed", owner=None, git_commit=None)]
    for r in written:
        ledger.append(r)
    text = ledger.export("csv")
    read = list(csv.DictReader(io.StringIO(text)))
    assert tuple(read[0]) == CSV_COLUMNS
    assert len(read) == 2
    for line, r in zip(read, written, strict=True):
        assert line["env"] == r.env and line["status"] == r.status
        assert line["owner"] == (r.owner or "") and line["git_commit"] == (r.git_commit or "")
        assert line["started_at"] == r.started_at
        assert float(line["cost_usd"]) == r.cost_usd  # exactly: no rounding on the way
        assert float(line["cpu_usd"]) == r.cost["total"]["cpu_usd"]
        assert float(line["memory_usd"]) == r.cost["total"]["memory_usd"]
        assert float(line["storage_usd"]) == 0.0  # absent from the cost: zero, not blank
        assert float(line["runner_usd"]) == 1e-7
        assert float(line["duration_seconds"]) == 90 + int(r.env[-1])
        assert int(line["suites"]) == 1 and int(line["failures"]) == r.failures
    assert read[1]["suites_failed"] == "1" and read[0]["suites_failed"] == "0"
    assert ledger.export("csv", since=T0 + timedelta(hours=2)).count("\n") == 2  # header + 1


def test_json_export_round_trips_to_the_same_rows(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    written = [row(1), row(2, status="error")]
    for r in written:
        ledger.append(r)
    exported = json.loads(ledger.export("json"))
    assert [LedgerRow.from_dict(d) for d in exported] == written
    assert json.loads(ledger.export("json", since=T0 + timedelta(days=1))) == []


def test_an_unknown_export_format_is_answered_with_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        Ledger(tmp_path / "ledger.db").export("xlsx")
    assert info.value.hint == "valid: csv, json"


def test_a_ledger_that_cannot_be_created_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError) as info:
        Ledger(blocker / "ledger.db")
    assert info.value.hint is not None and "ENVCTL_STATE_DIR" in info.value.hint


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_git_commit_is_the_repos_head_and_none_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / "blueprints").mkdir(parents=True)
    (repo / "blueprints" / "bp.yaml").write_text("x: 1\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD")
    assert git_commit(repo / "blueprints") == head
    assert git_commit(repo / "blueprints" / "bp.yaml") == head  # a file: its directory
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert git_commit(elsewhere) is None
    assert git_commit(tmp_path / "does-not-exist" / "bp.yaml") is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert git_commit(repo) is None  # no git at all: None, not an exception
