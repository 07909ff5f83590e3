"""The fidelity score: per dimension, with every raw difference, and overall."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.audit.declared import from_blueprint
from orchestrator.audit.model import WEIGHTS, AuditResult, Dimension, DimensionScore
from orchestrator.audit.score import audit, compare_versions, log_score, overall
from orchestrator.blueprint.loader import load
from orchestrator.blueprint.model import Intentional
from orchestrator.profile import ProductionProfile

PRODUCTION = """\
apiVersion: envctl/v1
kind: ProductionProfile
metadata: {name: shop-production}
services:
  db:
    image: "postgres:15.4"
    version: "15.4"
    replicas: 1
    resources: {cpu: "2", memory: 4Gi}
    tables:
      customers: {rows: 100000}
      orders: {rows: 1000000}
  cache:
    image: "redis:7.2.4"
    replicas: 1
    resources: {cpu: "1", memory: 1Gi}
    keyspaces: {"session:*": 50000}
  api:
    image: "shop-api:2.3.1"
    replicas: 1
    resources: {cpu: "1", memory: 512Mi}
  payments:
    image: "payments:1.0.0"
    replicas: 1
    resources: {cpu: "1", memory: 512Mi}
edges:
  - {from: api, to: payments, latency: {p50: 40ms, p95: 80ms, p99: 100ms}, error_rate: 0.01}
  - {from: api, to: db, latency: {p50: 2ms, p99: 3ms}}
  - {from: api, to: cache, error_rate: 0.001}
"""

MATCHING = """\
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: shop}
profile: production.yaml
services:
  db:
    image: "postgres:15.4"
    engine: postgres
    ports: [5432]
    resources: {cpu: "2", memory: 4Gi}
  cache: {image: "redis:7.2.4", engine: redis, ports: [6379], resources: {cpu: 1, memory: 1Gi}}
  api:
    image: "shop-api:2.3.1"
    ports: [8000]
    resources: {cpu: 1, memory: 512Mi}
  payments:
    image: "payments:1.0.0"
    ports: [8080]
    resources: {cpu: 1, memory: 512Mi}
links:
  - {from: api, to: payments, latency: {p50: 40ms, p95: 80ms, p99: 100ms}}
  - {from: api, to: db, latency: {mean: 2ms, jitter: 1ms}}
  - {from: suite, to: api, latency: {mean: 50ms}}
data:
  - service: db
    tables:
      customers: {scale: 1}
      orders: {rows: 1000000}
  - service: cache
    keyspaces:
      - {pattern: "session:{id}", count: 50000}
"""

# An older major version, 1% of the rows without saying so, no link on api -> payments.
DRIFTED = (
    MATCHING.replace('image: "postgres:15.4"', 'image: "postgres:13.4"')
    .replace("customers: {scale: 1}", "customers: {scale: 0.01}")
    .replace("orders: {rows: 1000000}", "orders: {rows: 10000}")
    .replace("count: 50000", "count: 500")
    .replace("  - {from: api, to: payments, latency: {p50: 40ms, p95: 80ms, p99: 100ms}}\n", "")
)


def production() -> ProductionProfile:
    return ProductionProfile.model_validate(yaml.safe_load(PRODUCTION))


def profile_of(data: dict[str, Any]) -> ProductionProfile:
    base = {"apiVersion": "envctl/v1", "kind": "ProductionProfile", "metadata": {"name": "p"}}
    return ProductionProfile.model_validate({**base, **data})


def static_audit(tmp_path: Path, blueprint: str) -> AuditResult:
    (tmp_path / "production.yaml").write_text(PRODUCTION)
    path = tmp_path / "shop.yaml"
    path.write_text(blueprint)
    loaded = load(path)
    return audit(
        production(),
        from_blueprint(loaded),
        subject=str(path),
        kind="static",
        profile_name="production.yaml",
        intentional=loaded.model.intentional,
    )


def scores(result: AuditResult) -> dict[str, float | None]:
    return {d.dimension.value: d.score for d in result.dimensions}


def dimension(result: AuditResult, which: Dimension) -> DimensionScore:
    return next(d for d in result.dimensions if d.dimension is which)


def subjects(result: AuditResult, which: Dimension) -> dict[str, float]:
    return {x.subject: x.score for x in dimension(result, which).differences}


# a blueprint against its production ------------------------------------------------------


def test_a_blueprint_that_matches_its_profile_scores_100(tmp_path: Path) -> None:
    result = static_audit(tmp_path, MATCHING)
    got = scores(result)
    for which in ("versions", "topology", "resources", "data_volume", "latency"):
        assert got[which] == pytest.approx(100.0), which
    assert got["data_shape"] is None  # a static audit cannot see the data's shape
    assert result.overall == pytest.approx(100.0)
    for which in (Dimension.versions, Dimension.topology, Dimension.data_volume):
        assert dimension(result, which).differences == []


def test_a_drifted_blueprint_loses_points_exactly_where_it_drifted(tmp_path: Path) -> None:
    result = static_audit(tmp_path, DRIFTED)
    got = scores(result)
    assert got["versions"] == pytest.approx(75.0)  # db: 0 of 1, the three others 1
    assert got["data_volume"] == pytest.approx(0.0)  # 1% with no scale-down declared
    assert got["latency"] == pytest.approx(50.0)  # api -> payments 0, api -> db 1
    assert got["topology"] == pytest.approx(100.0)
    assert got["resources"] == pytest.approx(100.0)
    assert result.overall < static_audit(tmp_path, MATCHING).overall

    [version] = dimension(result, Dimension.versions).differences
    assert (version.subject, version.production, version.environment) == ("db", "15.4", "13.4")
    assert version.score == 0.0
    assert version.note == (
        "major version 13 in the environment, 15 in production: the environment is older"
    )
    assert subjects(result, Dimension.data_volume) == {
        "db.customers": 0.0,
        "db.orders": 0.0,
        "cache.session:*": 0.0,
    }
    notes = [x.note for x in dimension(result, Dimension.data_volume).differences]
    assert notes[0] == "1,000 rows in the environment, 100,000 in production (1%)"
    latency = {x.subject: x for x in dimension(result, Dimension.latency).differences}
    assert set(latency) == {f"api -> payments {q}" for q in ("p50", "p95", "p99")}
    assert latency["api -> payments p99"].note == (
        "p99 0 ms in the environment, 100 ms in production: no link injects it"
    )
    assert all(x.score == 0.0 for x in latency.values())


def test_declaring_the_scale_down_gives_data_volume_its_points_back(tmp_path: Path) -> None:
    declared = DRIFTED.replace(
        "profile: production.yaml\n", "profile: production.yaml\nintentional: {data_scale: 0.01}\n"
    )
    result = static_audit(tmp_path, declared)
    assert scores(result)["data_volume"] == pytest.approx(100.0)
    diffs = dimension(result, Dimension.data_volume).differences
    assert len(diffs) == 3  # still listed, as intentional
    assert all(x.intentional and x.score == pytest.approx(1.0) for x in diffs)
    assert diffs[0].note.endswith("; intentional: data_scale 0.01")
    # Nothing else moved: versions and latency still lose their points.
    assert scores(result)["versions"] == pytest.approx(75.0)
    assert scores(result)["latency"] == pytest.approx(50.0)


def test_the_same_profiles_give_the_same_result(tmp_path: Path) -> None:
    first, second = static_audit(tmp_path, DRIFTED), static_audit(tmp_path, DRIFTED)
    assert first == second
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())


# versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prod", "env", "score", "words"),
    [
        ("15.4", "15.4", 1.0, ""),
        ("15.4", "15.6", 0.8, "minor version 15.6 in the environment, 15.4 in production"),
        ("1.42.0", "1.42.3", 1.0, "same major and minor"),
        ("1.42.0", "1.40.0", 0.8, "the environment is older"),
        ("1.42.0", "1.43.0", 0.8, "the environment is newer"),
        ("15.10", "15", 0.8, "the environment names no minor"),
        ("v2.1", "2.1.0", 1.0, "same major and minor"),
        ("15.4", "16.1", 0.0, "major version 16 in the environment, 15 in production"),
        ("7.2-alpine", "7.2.4", 1.0, "same major and minor"),
    ],
)
def test_versions_compare_major_then_minor(prod: str, env: str, score: float, words: str) -> None:
    got, note = compare_versions(prod, env)
    assert got == score
    assert words in note


def test_a_version_that_is_not_a_number_is_listed_not_scored() -> None:
    assert compare_versions("15.4", "latest")[0] is None
    prod = profile_of({"services": {"db": {"version": "15.4"}, "api": {"image": "api:3"}}})
    env = profile_of({"services": {"db": {"image": "postgres:latest"}, "api": {"image": "api"}}})
    result = audit(prod, env, subject="s", kind="static", profile_name="p")
    versions = dimension(result, Dimension.versions)
    assert versions.score is None  # nothing could be compared
    notes = {x.subject: x.note for x in versions.differences}
    assert notes["db"].startswith("not scored: cannot compare 'latest'")
    assert notes["api"] == "not scored: the environment names no version"
    assert all(x.score == 1.0 for x in versions.differences)


# topology ---------------------------------------------------------------------------------


def test_a_missing_service_costs_its_share_and_an_extra_one_nothing() -> None:
    prod = profile_of({"services": {"db": {}, "api": {}, "search": {}, "mail": {}}})
    env = profile_of({"services": {"db": {}, "api": {}, "mail": {}, "mailhog": {}}})
    topology = dimension(
        audit(prod, env, subject="s", kind="k", profile_name="p"), Dimension.topology
    )
    assert topology.score == pytest.approx(75.0)
    assert subjects_of(topology) == {"search": 0.0, "mailhog": 1.0}
    extra = next(x for x in topology.differences if x.subject == "mailhog")
    assert extra.note == "not scored: only in the environment"


def subjects_of(d: DimensionScore) -> dict[str, float]:
    return {x.subject: x.score for x in d.differences}


# resources --------------------------------------------------------------------------------


def test_resources_score_the_log_of_their_ratio() -> None:
    assert log_score(1, 1) == 1.0
    assert log_score(1, 10) == pytest.approx(0.0)  # a tenth scores 0
    assert log_score(1, 100) == 0.0
    assert log_score(2, 1) == pytest.approx(1 - 0.30103, abs=1e-4)  # twice as much
    assert log_score(0.5, 1, expected=0.5) == 1.0
    assert log_score(0, 5) == 0.0
    assert log_score(0, 0) == 1.0


def test_intentional_resources_and_replicas_are_targets_noted_as_such() -> None:
    prod = profile_of(
        {"services": {"api": {"replicas": 6, "resources": {"cpu": 4, "memory": "8Gi"}}}}
    )
    env = profile_of(
        {"services": {"api": {"replicas": 1, "resources": {"cpu": 1, "memory": "2Gi"}}}}
    )
    plain = dimension(
        audit(prod, env, subject="s", kind="k", profile_name="p"), Dimension.resources
    )
    assert plain.score is not None and plain.score < 50
    scale = Intentional(replicas=1, resources_scale=0.25)
    scaled = audit(prod, env, subject="s", kind="k", profile_name="p", intentional=scale)
    resources = dimension(scaled, Dimension.resources)
    assert resources.score == pytest.approx(100.0)
    notes = {x.subject: x for x in resources.differences}
    assert (
        notes["api replicas"].note
        == "1 in the environment, 6 in production; intentional: replicas 1"
    )
    assert notes["api cpu"].note == (
        "1 cpu in the environment, 4 cpu in production; intentional: resources_scale 0.25"
    )
    assert notes["api memory"].note.startswith("2Gi in the environment, 8Gi in production")
    assert all(x.intentional for x in resources.differences)


def test_a_resource_one_side_does_not_know_is_listed_not_scored() -> None:
    prod = profile_of({"services": {"api": {"resources": {"cpu": 2}}}})
    env = profile_of({"services": {"api": {"replicas": 1, "resources": {"memory": "1Gi"}}}})
    resources = dimension(
        audit(prod, env, subject="s", kind="k", profile_name="p"), Dimension.resources
    )
    assert resources.score is None
    assert {x.subject: x.note for x in resources.differences} == {
        "api cpu": "not scored: the environment gives no cpu",
        "api memory": "not scored: production gives no memory",
        "api replicas": "not scored: production gives no replicas",
    }


# data volume ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_rows", "score"),
    [(1_000_000, 1.0), (100_000, 0.5), (10_000, 0.0), (1_000, 0.0), (3_162_278, 0.75)],
)
def test_data_volume_scores_two_decades_of_ratio(env_rows: int, score: float) -> None:
    prod = profile_of({"services": {"db": {"tables": {"orders": {"rows": 1_000_000}}}}})
    env = profile_of({"services": {"db": {"tables": {"orders": {"rows": env_rows}}}}})
    volume = dimension(
        audit(prod, env, subject="s", kind="k", profile_name="p"), Dimension.data_volume
    )
    assert volume.score == pytest.approx(100 * score, abs=0.01)


def test_a_table_missing_from_the_environment_scores_0_and_an_extra_one_is_listed() -> None:
    prod = profile_of({"services": {"db": {"tables": {"a": {"rows": 10}, "b": {"rows": 10}}}}})
    env = profile_of({"services": {"db": {"tables": {"a": {"rows": 10}, "c": {"rows": 5}}}}})
    volume = dimension(
        audit(prod, env, subject="s", kind="k", profile_name="p"), Dimension.data_volume
    )
    assert volume.score == pytest.approx(50.0)
    notes = {x.subject: x.note for x in volume.differences}
    assert notes == {
        "db.b": "10 rows in production, missing from the environment",
        "db.c": "not scored: 5 rows in the environment, a table production's profile lacks",
    }


def test_a_scale_down_other_than_the_declared_one_still_costs_points() -> None:
    prod = profile_of({"services": {"db": {"tables": {"orders": {"rows": 1_000_000}}}}})
    env = profile_of({"services": {"db": {"tables": {"orders": {"rows": 100}}}}})
    result = audit(
        prod, env, subject="s", kind="k", profile_name="p", intentional=Intentional(data_scale=0.01)
    )
    [diff] = dimension(result, Dimension.data_volume).differences
    assert diff.score == pytest.approx(0.0)  # 0.01% where 1% was declared: two decades off
    assert diff.intentional
    assert diff.note.endswith("intentional: data_scale 0.01, which means about 10,000")


# data shape -------------------------------------------------------------------------------


def shaped(rows: int, **columns: dict[str, Any]) -> ProductionProfile:
    return profile_of({"services": {"db": {"tables": {"t": {"rows": rows, "columns": columns}}}}})


def shape_of(prod: ProductionProfile, env: ProductionProfile) -> DimensionScore:
    return dimension(
        audit(prod, env, subject="s", kind="k", profile_name="p"), Dimension.data_shape
    )


def test_null_fractions_lose_two_points_per_point_of_difference() -> None:
    got = shape_of(shaped(100, c={"null_frac": 0.05}), shaped(100, c={"null_frac": 0.3}))
    assert got.score == pytest.approx(50.0)
    [diff] = got.differences
    assert diff.subject == "db.t.c"
    assert diff.note == "null_frac 0.3 in the environment, 0.05 in production"


def distinct(prod: tuple[int, float], env: tuple[int, float]) -> float | None:
    got = shape_of(
        shaped(prod[0], c={"n_distinct": prod[1]}), shaped(env[0], c={"n_distinct": env[1]})
    )
    return got.score


def test_distinct_values_that_grow_with_the_rows_compare_as_a_share_of_them() -> None:
    # Every row distinct (-1) in production and in 1% of its rows: the same shape.
    assert distinct((1_000_000, -1), (10_000, -1)) == pytest.approx(100.0)
    assert distinct((1000, -0.1), (1000, -1)) == pytest.approx(50.0)  # a tenfold share


def test_distinct_values_of_a_fixed_domain_compare_as_counts() -> None:
    # 5 countries in production and in 1% of its rows: as pg_stats says, positive counts.
    assert distinct((1_000_000, 5), (10_000, 5)) == pytest.approx(100.0)
    assert distinct((1_000_000, 5), (10_000, 500)) == pytest.approx(0.0)  # 100 times more
    # 50,000 products ordered; the environment's 100,000 rows name them all (-0.5).
    assert distinct((10_000_000, 50_000), (100_000, -0.5)) == pytest.approx(100.0)


def test_most_common_values_compare_their_frequencies_over_both_sets() -> None:
    prod = shaped(10, c={"most_common_vals": ["US", "DE"], "most_common_freqs": [0.6, 0.4]})
    env = shaped(10, c={"most_common_vals": ["US", "FR"], "most_common_freqs": [0.6, 0.4]})
    got = shape_of(prod, env)
    assert got.score == pytest.approx(60.0)  # L1 = 0.8, half of it is 0.4
    [diff] = got.differences
    assert diff.production == {"most_common_freqs": {"US": 0.6, "DE": 0.4}}
    assert "40% of their frequency differs" in diff.note


def test_a_column_scores_the_mean_of_its_statistics_and_the_dimension_of_its_columns() -> None:
    prod = shaped(
        100,
        a={"null_frac": 0.0, "most_common_vals": [1], "most_common_freqs": [1.0]},
        b={"null_frac": 0.0},
    )
    env = shaped(
        100,
        a={"null_frac": 0.5, "most_common_vals": ["1"], "most_common_freqs": [1.0]},
        b={"null_frac": 0.0},
    )
    got = shape_of(prod, env)
    assert got.score == pytest.approx(75.0)  # a: (0 + 1) / 2, b: 1
    assert subjects_of(got) == {"db.t.a": 0.5}  # values compare as text: 1 is '1'


def test_without_column_stats_on_one_side_data_shape_is_not_scored() -> None:
    prod = shaped(100, c={"null_frac": 0.1})
    env = profile_of({"services": {"db": {"tables": {"t": {"rows": 100}}}}})
    got = shape_of(prod, env)
    assert got.score is None
    [diff] = got.differences
    assert "static audits cannot see data shape" in diff.note
    assert shape_of(env, env).differences == []


# latency ----------------------------------------------------------------------------------


def edges(*edges: dict[str, Any]) -> ProductionProfile:
    return profile_of({"edges": list(edges)})


def latency_of(prod: ProductionProfile, env: ProductionProfile) -> DimensionScore:
    return dimension(audit(prod, env, subject="s", kind="k", profile_name="p"), Dimension.latency)


def test_latency_scores_the_relative_miss_of_each_percentile_production_has() -> None:
    prod = edges({"from": "a", "to": "b", "latency": {"p50": "100ms", "p99": "400ms"}})
    env = edges({"from": "a", "to": "b", "latency": {"p50": "150ms", "p95": "1s", "p99": "400ms"}})
    got = latency_of(prod, env)
    assert got.score == pytest.approx(75.0)  # p50: 1 - 50/100, p99: 1; p95 not in production
    [diff] = got.differences
    assert diff.note == "p50 150 ms in the environment, 100 ms in production"


def test_a_link_without_latency_injects_none_and_a_missing_percentile_is_not_scored() -> None:
    prod = edges(
        {"from": "a", "to": "b", "latency": {"p50": "10ms", "p95": "20ms", "p99": "30ms"}},
        {"from": "a", "to": "c", "latency": {"p50": "10ms"}},
    )
    env = edges(
        {"from": "a", "to": "b", "latency": {"p50": "10ms", "p99": "30ms"}},
        {"from": "a", "to": "c"},
        {"from": "c", "to": "d", "latency": {"p50": "1ms"}},
    )
    got = latency_of(prod, env)
    assert got.score == pytest.approx(50.0)  # a -> b: 1 (p95 unscored); a -> c: 0
    notes = {x.subject: x.note for x in got.differences}
    assert notes == {
        "a -> b p95": "not scored: the link gives no p95 (20 ms in production)",
        "a -> c p50": "p50 0 ms in the environment, 10 ms in production: the link injects none",
        "c -> d": "not scored: production's profile has no latency for this edge",
    }


def test_edges_production_measured_no_latency_on_are_not_scored() -> None:
    prod = edges({"from": "a", "to": "b", "error_rate": 0.01})
    assert latency_of(prod, edges()).score is None


# overall ----------------------------------------------------------------------------------


def test_overall_is_the_weighted_mean_of_the_dimensions_that_have_a_score() -> None:
    dims = [
        DimensionScore(Dimension.versions, 100.0),
        DimensionScore(Dimension.latency, 0.0),
        DimensionScore(Dimension.data_shape, None),
    ]
    weights = WEIGHTS[Dimension.versions] + WEIGHTS[Dimension.latency]
    assert overall(dims) == pytest.approx(100 * WEIGHTS[Dimension.versions] / weights)
    assert overall([DimensionScore(Dimension.topology, None)]) == 0.0


def test_every_dimension_is_reported_in_order_and_the_result_is_json(tmp_path: Path) -> None:
    result = static_audit(tmp_path, DRIFTED)
    assert [d.dimension for d in result.dimensions] == list(Dimension)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["kind"] == "static"
    assert data["dimensions"]["data_shape"]["score"] is None
    assert data["dimensions"]["versions"]["differences"][0]["dimension"] == "versions"
