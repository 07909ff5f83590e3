"""Seeding inside `envctl run`: failures tear down and are recorded; the data cache."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import Cli, leftovers

pytestmark = pytest.mark.local

BLUEPRINT = """\
apiVersion: envctl/v1
kind: Blueprint
metadata: {{name: seedrun}}
secrets: {{PW: {{generate: true}}}}
services:
  db:
    image: "postgres:15"
    engine: postgres
    env: {{POSTGRES_USER: app, POSTGRES_PASSWORD: "${{secret.PW}}", POSTGRES_DB: shop}}
data:
  - service: db
    schema: schema.sql
    tables:
      customers: {{rows: {customers}}}
      orders:
        rows: 5000
        columns:
          customer_id: {{ref: customers.id, distribution: zipf}}
          {extra}
suites:
  - name: count
    run: >-
      python -c "import os, psycopg;
      c = psycopg.connect(os.environ['ENVCTL_DB_URL']);
      assert c.execute('select count(*) from orders').fetchone() == (5000,)"
"""

SCHEMA = """\
CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    code integer NOT NULL UNIQUE
);
"""


def write(tmp_path: Path, customers: int = 300, extra: str = "code: {sequence: 1}") -> Path:
    (tmp_path / "schema.sql").write_text(SCHEMA)
    path = tmp_path / "seedrun.yaml"
    path.write_text(BLUEPRINT.format(customers=customers, extra=extra))
    return path


def test_a_seed_that_fails_midway_tears_down_and_is_recorded(tmp_path: Path, cli: Cli) -> None:
    # `code` repeats, so the UNIQUE constraint fails once the rows are in.
    done = cli("run", str(write(tmp_path, extra="code: {int: [1, 10]}")), "-o", "json")
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "error"
    error = result["error"]
    assert error["type"] == "SeedError"
    assert "orders" in error["message"] and "unique" in error["hint"]
    assert error["file"].endswith("seedrun.yaml") and error["line"] == 15
    assert "Traceback" not in done.stderr
    assert cli.live() == []
    assert result["teardown"]["complete"] is True
    assert leftovers(result["env"]) == []
    history = (cli.state_dir / "runs" / result["env"] / "result.json").read_text()
    assert json.loads(history)["status"] == "error"


def test_the_second_run_starts_from_the_seeded_copy(tmp_path: Path, cli: Cli) -> None:
    path = write(tmp_path)
    first = cli.json("run", str(path))
    second = cli.json("run", str(path))
    assert (first["status"], second["status"]) == ("passed", "passed")
    assert [s["cache"] for s in first["seeding"]] == ["miss"]
    assert [s["cache"] for s in second["seeding"]] == ["hit"]
    assert second["seeding"][0]["rows"] == first["seeding"][0]["rows"] == 5300
    # A different data section is different data: generated again.
    third = cli.json("run", str(write(tmp_path, customers=301)))
    assert third["status"] == "passed"
    assert [s["cache"] for s in third["seeding"]] == ["miss"]
    # Each run had its own password; the copied data answered to it (the suite ran).
    assert "PW" not in json.dumps(second["seeding"])


def test_cache_false_always_generates(tmp_path: Path, cli: Cli) -> None:
    path = write(tmp_path)
    path.write_text(
        path.read_text().replace(
            "    schema: schema.sql", "    schema: schema.sql\n    cache: false"
        )
    )
    runs = [cli.json("run", str(path)) for _ in range(2)]
    assert [r["seeding"][0]["cache"] for r in runs] == ["off", "off"]


def test_ctrl_c_while_seeding_tears_down_and_records(tmp_path: Path, cli: Cli) -> None:
    # Large enough to be caught mid-load (a few seconds of COPY and index builds).
    proc = cli.popen("run", str(write(tmp_path, customers=3_000_000)), "-o", "json")
    try:
        cli.wait_for(lambda rows: bool(rows) and rows[0]["status"] == "seeding", timeout=60)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    result = json.loads(out)
    assert result["status"] == "error" and result["error"]["type"] == "Interrupted"
    assert "Traceback" not in err
    assert cli.live() == []
    assert leftovers(result["env"]) == []
