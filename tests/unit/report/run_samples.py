"""Runs for the report tests: real results of envctl runs (``runs/``), and variants.

``runs/passed.json`` is ``envctl run blueprints/checkout.yaml -o json`` (already redacted,
as every JSON result is), ``runs/failed.json`` the tiny local blueprint with a failing
suite, ``runs/error.json`` the crashing one (a service that exits while starting).
``runs/contract.xml`` is the JUnit the demo's suite wrote in that run, and
``runs/suite-failed.xml`` a real pytest JUnit with a failure, an error and a skip.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from orchestrator.settings import Settings
from orchestrator.state import StateStore

RUNS = Path(__file__).parent / "runs"
XSS = "<script>alert(1)</script>"
HOSTILE_SERVICE = "a|b`c" + XSS
HOSTILE_SUITE = "]]><x>&amp;|`"
HOSTILE_LINK = '<img src=x onerror="alert(1)">'


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RUNS / name).read_text("utf-8"))
    return data


def passed() -> dict[str, Any]:
    return load("passed.json")


def failed() -> dict[str, Any]:
    return load("failed.json")


def errored() -> dict[str, Any]:
    return load("error.json")


def contract_junit() -> str:
    return (RUNS / "contract.xml").read_text("utf-8")


def failing_junit() -> str:
    return (RUNS / "suite-failed.xml").read_text("utf-8")


def failed_demo(passed: dict[str, Any]) -> dict[str, Any]:
    """The demo run with its suite failing (as suite-failed.xml counts) and a second
    suite that timed out without writing JUnit."""
    data = copy.deepcopy(passed)
    data["status"] = "failed"
    suite = data["suites"][0]
    suite |= {"status": "failed", "exit_code": 1}
    suite["tests"] = {"total": 4, "failures": 1, "errors": 1, "skipped": 1}
    smoke = {
        "name": "smoke",
        "tier": "standard",
        "status": "timeout",
        "exit_code": None,
        "seconds": 30.0,
        "junit": None,
        "tests": None,
        "log": "/tmp/runs/x/logs/suite-smoke.log",
    }
    data["suites"].append(smoke)
    for span in data["timeline"]:
        if span["kind"] == "suite":
            span |= {"status": "failed", "tests": suite["tests"]}
    end = max(s["end"] for s in data["timeline"])
    data["timeline"].append(
        {"kind": "suite", "name": "smoke", "status": "timeout", "start": end, "end": end + 2.0}
    )
    return data


def leftover_run(passed: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(passed)
    data["teardown"] = {
        "complete": False,
        "leftovers": ["process 4242 postgres", "directory /tmp/envctl-checkout-x"],
    }
    return data


def hostile(passed: dict[str, Any]) -> dict[str, Any]:
    """The demo run with markup, pipes, backticks and CDATA ends in every name."""
    data = copy.deepcopy(passed)
    data["blueprint"] = XSS
    data["env"] = XSS + "-1a2b"
    data["services"] = {
        (HOSTILE_SERVICE if name == "db" else name): s for name, s in data["services"].items()
    }
    for span in data["timeline"]:
        if span["name"] == "db":
            span["name"] = HOSTILE_SERVICE
        if span["name"] == "contract":
            span["name"] = HOSTILE_SUITE
    for seed in data["seeding"]:
        if seed["service"] == "db":
            seed["service"] = HOSTILE_SERVICE
    data["suites"][0]["name"] = HOSTILE_SUITE
    data["links"][0]["name"] = HOSTILE_LINK
    data["links"][0]["faults_fired"] = {XSS: 3}
    data["cost"]["by_service"][HOSTILE_SERVICE] = data["cost"]["by_service"].pop("db")
    data["warnings"] = [f"version {XSS} | `drift`"]
    data["fidelity"]["profile"] = "/x/<b>production.yaml"
    return data


def bare() -> dict[str, Any]:
    """A run with nothing in it: no services, suites, links, data, cost or fidelity, and
    no timeline field at all (as runs recorded before timelines existed)."""
    return {
        "schema_version": 1,
        "env": "bare-0000",
        "blueprint": "bare",
        "blueprint_file": "/x/bare.yaml",
        "owner": None,
        "tier": "standard",
        "runtime": "local",
        "status": "passed",
        "started_at": "2026-01-01T10:00:00+00:00",
        "finished_at": "2026-01-01T10:00:01+00:00",
        "duration_seconds": 1.0,
        "run_dir": "/x/runs/bare-0000",
        "services": {},
        "suites": [],
        "phases": {},
        "version_drift": [],
        "links": [],
        "seeding": [],
        "cost": None,
        "fidelity": None,
        "proxy": None,
        "warnings": [],
        "error": None,
        "teardown": {"complete": True, "leftovers": []},
    }


def record(settings: Settings, data: dict[str, Any], *, file: bool = True) -> dict[str, Any]:
    """As ``Engine._record`` does: the runs table, and result.json in the run dir."""
    data = copy.deepcopy(data)
    data["run_dir"] = str(settings.runs_dir / data["env"])
    StateStore(settings.state_db).record_run(data)
    if file:
        run_dir = Path(data["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "result.json").write_text(json.dumps(data, indent=2))
    return data
