"""What a blueprint declares, as the environment's profile of a static audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.audit.declared import from_blueprint
from orchestrator.blueprint.loader import load
from orchestrator.exceptions import BlueprintError

PROFILE = """\
apiVersion: envctl/v1
kind: ProductionProfile
metadata: {name: prod}
services:
  db:
    tables:
      customers: {rows: 1200000}
"""

BLUEPRINT = """\
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: declared}
profile: prod.yaml
services:
  db:
    image: "registry.example.com:5000/library/postgres:15.4@sha256:abcd"
    engine: postgres
    ports: [5432]
    resources: {cpu: 500m, memory: 2Gi}
  cache: {image: "redis:7.2", engine: redis, ports: [6379]}
  api: {image: "shop-api", ports: [8000]}
  payments: {ports: [8080]}
links:
  - {from: api, to: payments, latency: {p50: 40ms, p99: 100ms}}
  - {from: api, to: db, latency: {mean: 2ms, jitter: 1ms}}
  - {from: api, to: cache, faults: [{reset_peer: {probability: 0.01}}]}
  - {from: suite, to: api, latency: {mean: 50ms}}
data:
  - service: db
    tables:
      customers: {scale: 0.01}
      coupons: {rows: 40}
  - service: cache
    keyspaces:
      - {pattern: "session:{id}", count: 2000}
      - {pattern: "config"}
"""


@pytest.fixture
def blueprint(tmp_path: Path) -> Path:
    (tmp_path / "prod.yaml").write_text(PROFILE)
    path = tmp_path / "bp.yaml"
    path.write_text(BLUEPRINT)
    return path


def test_services_declare_their_image_tag_one_replica_and_resources(blueprint: Path) -> None:
    declared = from_blueprint(load(blueprint))
    db = declared.services["db"]
    assert db.image == "registry.example.com:5000/library/postgres:15.4@sha256:abcd"
    assert db.version == "15.4"  # the tag, not the registry's port or the digest
    assert db.replicas == 1
    assert (db.resources.cpu, db.resources.memory) == (0.5, 2 * 2**30)
    assert declared.services["cache"].version == "7.2"
    api = declared.services["api"]
    assert api.version is None  # no tag: a static audit cannot say which version runs
    assert (api.resources.cpu, api.resources.memory) == (None, None)
    assert declared.services["payments"].image is None
    assert list(declared.services) == ["db", "cache", "api", "payments"]


def test_tables_get_their_resolved_row_counts_and_no_column_stats(blueprint: Path) -> None:
    tables = from_blueprint(load(blueprint)).services["db"].tables
    assert {name: t.rows for name, t in tables.items()} == {"customers": 12000, "coupons": 40}
    assert all(not t.columns for t in tables.values())


def test_keyspaces_count_their_keys_per_pattern(blueprint: Path) -> None:
    cache = from_blueprint(load(blueprint)).services["cache"]
    assert cache.keyspaces == {"session:{id}": 2000, "config": 1}
    assert cache.tables == {}


def test_links_become_edges_with_percentiles_and_the_suite_is_no_edge(blueprint: Path) -> None:
    edges = {(e.from_, e.to): e.latency for e in from_blueprint(load(blueprint)).edges}
    assert set(edges) == {("api", "payments"), ("api", "db"), ("api", "cache")}
    fitted = edges[("api", "payments")]
    assert (fitted.p50, fitted.p95, fitted.p99) == (0.04, None, 0.1)  # as given
    fixed = edges[("api", "db")]
    assert fixed.p50 == pytest.approx(0.002)  # the mean
    assert fixed.p95 == pytest.approx(0.003)  # mean + jitter
    assert fixed.p99 == pytest.approx(0.003)
    no_delay = edges[("api", "cache")]
    assert (no_delay.p50, no_delay.p95, no_delay.p99) == (None, None, None)


def test_the_profile_is_named_after_the_blueprint(blueprint: Path) -> None:
    declared = from_blueprint(load(blueprint))
    assert declared.metadata.name == "declared"
    assert declared.metadata.source is not None
    assert str(blueprint.resolve()) in declared.metadata.source


def test_the_same_blueprint_declares_the_same_profile(blueprint: Path) -> None:
    assert from_blueprint(load(blueprint)) == from_blueprint(load(blueprint))


def test_a_scale_the_profile_cannot_resolve_is_a_located_error(
    blueprint: Path, tmp_path: Path
) -> None:
    loaded = load(blueprint)
    (tmp_path / "prod.yaml").write_text(PROFILE.replace("customers", "clients"))
    with pytest.raises(BlueprintError) as info:  # the profile changed after loading
        from_blueprint(loaded)
    assert "no row count for db.customers" in info.value.message
