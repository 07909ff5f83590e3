"""Fidelity against a profile captured from a real PostgreSQL: a faithful environment
scores high on data; a drifted blueprint scores low on exactly what drifted."""

from __future__ import annotations

import json
import secrets
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from orchestrator.audit import capture
from orchestrator.blueprint.loader import load
from orchestrator.seed import volumes
from orchestrator.seed.run import SeedRequest, seed_entry
from tests.conftest import Cli
from tests.integration.seeding.conftest import Engines

pytestmark = pytest.mark.local

SCHEMA = """\
CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE,
                        country text NOT NULL, note text);
CREATE TABLE orders (id bigserial PRIMARY KEY,
                     customer_id bigint NOT NULL REFERENCES customers (id),
                     status text NOT NULL);
"""


# At most 30,000 rows a table: ANALYZE then reads every row (300 x its statistics target)
# instead of a sample, so both sides' statistics are exact and the scores repeatable.


def blueprint(image: str, customers: int, orders: int, link: bool) -> str:
    links = "links:\n  - {from: app, to: db, latency: {p50: 50ms, p99: 100ms}}\n" if link else ""
    return (
        textwrap.dedent(f"""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {{name: audited}}
        secrets: {{PW: {{generate: true}}}}
        services:
          db:
            image: "{image}"
            engine: postgres
            env: {{POSTGRES_USER: app, POSTGRES_PASSWORD: "${{secret.PW}}", POSTGRES_DB: shop}}
          app:
            ports: [8000]
            depends_on: [db]
            ready: {{tcp: true}}
            env: {{DB: "${{db.host}}:${{db.port}}"}}
            local: {{command: "python -m http.server --bind 127.0.0.1 ${{self.port}}"}}
        data:
          - service: db
            schema: schema.sql
            seed: 5
            tables:
              customers:
                rows: {customers}
                columns:
                  country: {{choice: {{US: 50, DE: 30, FR: 20}}}}
                  note: {{text: [5, 30], null_fraction: 0.4}}
              orders:
                rows: {orders}
                columns:
                  customer_id: {{ref: customers.id, distribution: zipf}}
                  status: {{choice: {{paid: 85, refunded: 15}}}}
        """)
        + links
        + 'suites:\n  - {name: noop, run: "true"}\n'
    )


@dataclass(frozen=True)
class Production:
    profile: Path
    version: str  # what the captured server reported, e.g. '15.18'


@pytest.fixture(scope="module")
def production(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """Production: the faithful blueprint's data in a database of its own, captured into
    a profile with a measured 100 ms p99 on the app → db edge."""
    pg_url = engines.postgres_url
    here = tmp_path_factory.mktemp("production")
    (here / "schema.sql").write_text(SCHEMA)
    (here / "prod.yaml").write_text(blueprint("postgres:15", 10_000, 30_000, link=True))
    name = f"prod_{secrets.token_hex(4)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = urlunsplit(urlsplit(pg_url)._replace(path=f"/{name}"))
    try:
        loaded = load(here / "prod.yaml")
        seed_entry(SeedRequest(loaded, 0, url, volumes.rows(loaded, 0), lambda _: None))
        samples = here / "app-db.txt"
        samples.write_text("".join(f"{_sample(i):.3f}ms\n" for i in range(1000)))
        profile = capture.capture(
            capture.CaptureSources(
                "production",
                postgres={"db": url},
                edges=[("app", "db", samples)],
                images={"db": "postgres"},
            )
        )
        services = dict(profile.services)
        services["app"] = profile.services["db"].model_copy(
            update={"version": None, "image": None, "tables": {}, "extensions": []}
        )
        path = here / "production.yaml"
        path.write_text(capture.dump(profile.model_copy(update={"services": services})))
        yield Production(path, profile.services["db"].version or "15")
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _sample(i: int) -> float:
    """1,000 measured latencies, ms: p50 50, p99 100."""
    if i < 500:
        return 30 + i / 500 * 20
    if i < 990:
        return 50 + (i - 500) / 490 * 50
    return 100 + (i - 990)


def scores(result: dict[str, Any]) -> dict[str, float | None]:
    return {name: d["score"] for name, d in result["dimensions"].items()}


def subjects(result: dict[str, Any], dimension: str) -> list[str]:
    return [d["subject"] for d in result["dimensions"][dimension]["differences"]]


def test_a_faithful_environment_scores_high_on_data(
    production: Production, tmp_path: Path, cli: Cli
) -> None:
    (tmp_path / "schema.sql").write_text(SCHEMA)
    path = tmp_path / "faithful.yaml"
    path.write_text(blueprint(f"postgres:{production.version}", 10_000, 30_000, link=True))
    result = cli.json("run", str(path), "--audit", str(production.profile))
    assert result["status"] == "passed", result["error"]
    fidelity = result["fidelity"]
    assert fidelity["kind"] == "live"
    got = scores(fidelity)
    assert got["data_volume"] is not None and got["data_volume"] >= 95, fidelity
    assert got["data_shape"] is not None and got["data_shape"] >= 85, fidelity
    assert got["latency"] is not None and got["latency"] >= 85, fidelity
    assert fidelity["overall"] >= 85
    # The score is kept with the run, for `envctl audit history`.
    history = cli.json("audit", "history", "audited")
    listed = json.dumps(history)
    assert result["env"] in listed


def test_a_drifted_blueprint_scores_low_on_exactly_what_drifted(
    production: Production, tmp_path: Path, cli: Cli
) -> None:
    (tmp_path / "schema.sql").write_text(SCHEMA)
    faithful = tmp_path / "faithful.yaml"
    faithful.write_text(blueprint(f"postgres:{production.version}", 10_000, 30_000, link=True))
    drifted = tmp_path / "drifted.yaml"
    drifted.write_text(blueprint("postgres:13", 100, 300, link=False))
    good = cli.json("audit", str(faithful), "--profile", str(production.profile))
    bad = cli.json("audit", str(drifted), "--profile", str(production.profile))
    good_scores, bad_scores = scores(good), scores(bad)
    for dimension in ("versions", "data_volume", "latency"):
        assert (bad_scores[dimension] or 0) <= 30, (dimension, bad)
        assert (good_scores[dimension] or 0) >= 90, (dimension, good)
    for dimension in ("topology", "resources"):
        assert bad_scores[dimension] == good_scores[dimension]
    assert "db" in subjects(bad, "versions")
    assert {"db.customers", "db.orders"} <= set(subjects(bad, "data_volume"))
    assert any("app" in s and "db" in s for s in subjects(bad, "latency"))
    # CI gates on it: below the threshold exits 5 (as `envctl run --fail-under`), above 0.
    assert (
        cli(
            "audit", str(drifted), "--profile", str(production.profile), "--fail-under", "80"
        ).returncode
        == 5
    )
    assert (
        cli(
            "audit", str(faithful), "--profile", str(production.profile), "--fail-under", "80"
        ).returncode
        == 0
    )
