"""The reference blueprint on Kubernetes, through the real CLI, on a real cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.kubernetes


@pytest.mark.timeout(900)
def test_reference_blueprint_runs_on_kubernetes_and_leaves_nothing(
    cli: Cli, leftovers: Callable[[str], list[str]]
) -> None:
    done = cli(
        "run", "blueprints/checkout.yaml", "--runtime", "kubernetes", "-o", "json", timeout=800
    )
    assert done.returncode == 0, done.stderr[-4000:]
    data = json.loads(done.stdout)
    assert data["status"] == "passed" and data["runtime"] == "kubernetes"
    [suite] = data["suites"]
    assert suite["status"] == "passed" and suite["tests"]["failures"] == 0
    assert suite["tests"]["total"] >= 10
    for name, svc in data["services"].items():
        # Reached through port-forwards on loopback.
        assert svc["host"] == "127.0.0.1" and isinstance(svc["port"], int), name
    assert data["services"]["db"]["version"].startswith("15."), "the engine's own version"
    assert data["services"]["orders"]["image"] == "orders:1.42.0"
    links = {link["name"]: link for link in data["links"]}
    assert links["orders-payments-provider"]["connections_total"] >= 1, "traffic crossed the link"
    assert links["orders-db"]["connections_total"] >= 1
    rows = {t["name"]: t["rows"] for seed in data["seeding"] for t in seed["targets"]}
    assert rows.get("orders") == 100_000, "seeded through the port-forward"
    logs = Path(data["run_dir"]) / "logs"
    assert (logs / "orders.log").is_file() and (logs / "db.log").read_text(), "pod logs kept"
    assert (Path(data["run_dir"]) / "proxy-events.jsonl").is_file(), "the proxy's events"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]

    assert cli.live() == []
    assert leftovers(data["env"]) == []
