"""Cost per run on real runs: what services burned and held, priced and summed right."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli

HERE = Path(__file__).resolve().parent
MIB = 1 << 20
GIB = 1 << 30


def totals(result: dict[str, Any], name: str) -> dict[str, float]:
    usage: dict[str, float] = result["cost"]["usage"][name]["total"]
    return usage


def assert_sums_are_exact(cost: dict[str, Any]) -> None:
    """Every total is the sum of its parts: over phases, and over services."""
    total = cost["total_usd"]
    assert sum(c["total_usd"] for c in cost["by_phase"].values()) == pytest.approx(total, abs=1e-7)
    assert sum(c["total_usd"] for c in cost["by_service"].values()) == pytest.approx(
        total, abs=1e-7
    )
    for name, usage in cost["usage"].items():
        phases = usage["phases"].values()
        for key in ("seconds", "cpu_seconds", "memory_gib_seconds"):
            assert sum(p[key] for p in phases) == pytest.approx(usage["total"][key], abs=1e-5), (
                name,
                key,
            )
        assert set(usage["phases"]) <= {"provision", "seed", "suites", "teardown"}


def check_burner_hog_idler(result: dict[str, Any], own_cpu: float | None) -> None:
    cost = result["cost"]
    burner, hog, idler = (totals(result, n) for n in ("burner", "hog", "idler"))
    # The burner used about a core for its life; the idler next to nothing.
    assert burner["cpu_seconds"] > 0.5 * burner["seconds"], burner
    assert idler["cpu_seconds"] < 0.1 * burner["cpu_seconds"], (idler, burner)
    if own_cpu is not None:  # what the process itself counted, independently of envctl
        assert burner["cpu_seconds"] == pytest.approx(own_cpu, rel=0.15, abs=0.3)
    # Priced in proportion to what each burned (no requests: usage is the charge).
    per_hour = cost["prices"]["usd_per_vcpu_hour"]["value"]
    by = cost["by_service"]
    for name, used in (("burner", burner), ("idler", idler)):
        expected = used["cpu_seconds"] * per_hour / 3600  # the JSON keeps 8 decimals
        assert by[name]["cpu_usd"] == pytest.approx(expected, rel=1e-3, abs=1e-8)
    # The hog holds 256 MiB more than the idler (the same program otherwise).
    held = (
        hog["memory_gib_seconds"] - idler["memory_gib_seconds"] * hog["seconds"] / idler["seconds"]
    )
    assert held == pytest.approx(256 * MIB / GIB * hog["seconds"], rel=0.2)
    assert hog["memory_peak_bytes"] >= 256 * MIB
    assert_sums_are_exact(cost)


@pytest.mark.local
def test_a_run_is_metered_priced_and_summed(tmp_path: Path, cli: Cli) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    result = cli.json("run", str(HERE / "metered.yaml"), env={"METER_REPORTS": str(reports)})
    assert result["status"] == "passed", result["error"]
    check_burner_hog_idler(result, float((reports / "burner.cpu").read_text()))
    # The suite's own processes are metered too, and the budget was checked.
    assert totals(result, "suite")["seconds"] > 2.5
    assert result["cost"]["budget"]["status"] == "ok"


@pytest.mark.local
def test_metering_off_records_no_cost(tmp_path: Path, cli: Cli) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    result = cli.json(
        "run",
        str(HERE / "metered.yaml"),
        env={"METER_REPORTS": str(reports), "ENVCTL_METERING": "off", "SUITE_SECONDS": "0"},
    )
    assert result["status"] == "passed"
    assert result["cost"] is None


@pytest.mark.docker
def test_a_docker_run_is_metered_from_its_containers(cli: Cli, built_images: Any) -> None:
    result = cli.json("run", str(HERE / "metered-docker.yaml"), "--runtime", "docker")
    assert result["status"] == "passed", result["error"]
    check_burner_hog_idler(result, None)


@pytest.mark.local
def test_ten_concurrent_runs_make_ten_consistent_ledger_rows(tmp_path: Path, cli: Cli) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    blueprint = tmp_path / "one.yaml"
    blueprint.write_text(
        (HERE / "metered.yaml")
        .read_text()
        .split("  burner:")[0]
        .replace("metadata: {name: metered,", "metadata: {name: ledgered,")
        + "  idler:\n    ports: [9000]\n    ready: {tcp: true}\n"
        f'    local: {{command: "python {HERE / "meter_app.py"} idle ${{self.port}}"}}\n'
        'suites:\n  - {name: quick, run: "true"}\n'
    )
    procs = [cli.popen("run", str(blueprint), "-o", "json") for _ in range(10)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out))
    exported = cli("cost", "export", "--format", "json", "--since", "1d")
    assert exported.returncode == 0, exported.stderr
    rows = json.loads(exported.stdout)
    rows = rows["runs"] if isinstance(rows, dict) else rows
    assert len(rows) == 10
    by_env = {r["env"]: r for r in rows}
    for result in results:
        row = by_env[result["env"]]
        assert (row["blueprint"], row["status"]) == ("ledgered", "passed")
        assert row["cost_usd"] == pytest.approx(result["cost"]["total_usd"], abs=1e-9)
