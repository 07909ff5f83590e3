"""The fidelity score: how close an environment's profile is to production's, per
dimension and overall, with every raw difference that cost points.

A number alone hides where the points went, so each dimension lists its differences
(one ``Difference`` per service, table, column or percentile that differs) next to its
0-100 score. Scale-downs a blueprint declares (``intentional:``) move the target instead
of costing points: 1% of production's rows scores full marks under ``data_scale: 0.01``.
Something only one side knows (a version, a cpu limit) is listed but not scored: such a
difference carries score 1 and a note starting "not scored". Pure and deterministic:
the same two profiles always give the same result, in the same order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.audit.model import WEIGHTS, AuditResult, Difference, Dimension, DimensionScore
from orchestrator.blueprint.model import Intentional
from orchestrator.profile import ColumnStats, EdgeLatency, ProductionProfile, ServiceProfile

PERCENTILES = ("p50", "p95", "p99")
SAME_MAJOR = 0.8  # same major version, another (or an unknown) minor
NOT_SCORED = "not scored: "
ENV, PROD = "in the environment", "in production"


def audit(
    production: ProductionProfile,
    environment: ProductionProfile,
    *,
    subject: str,
    kind: str,
    profile_name: str,
    intentional: Intentional | None = None,
) -> AuditResult:
    """Compare ``environment`` with ``production``; ``intentional`` scale-downs are targets."""
    scale = intentional or Intentional()
    dimensions = [
        _versions(production, environment),
        _topology(production, environment),
        _resources(production, environment, scale),
        _data_volume(production, environment, scale),
        _data_shape(production, environment),
        _latency(production, environment),
    ]
    return AuditResult(subject, kind, profile_name, overall(dimensions), dimensions)


def overall(dimensions: Iterable[DimensionScore]) -> float:
    """The weighted mean of the scored dimensions; 0 when none has a score, so that an
    audit that could compare nothing never passes a threshold."""
    scored = [(WEIGHTS[d.dimension], d.score) for d in dimensions if d.score is not None]
    total = sum(w for w, _ in scored)
    return sum(w * s for w, s in scored) / total if total else 0.0


def log_score(env: float, prod: float, expected: float = 1.0, decades: float = 1.0) -> float:
    """1 when ``env / prod`` is ``expected``, falling linearly with the log of the miss to
    0 at ``decades`` orders of magnitude off. Zero on one side only scores 0."""
    if env <= 0 or prod <= 0:
        return 1.0 if env == prod else 0.0
    return max(0.0, 1.0 - abs(math.log10(env / prod / expected)) / decades)


@dataclass
class _Tally:
    """One dimension being scored: its terms (0-1 each) and the differences it lists."""

    dimension: Dimension
    terms: list[float] = field(default_factory=list)
    diffs: list[Difference] = field(default_factory=list)

    def differ(
        self, subject: str, prod: Any, env: Any, score: float, note: str, intended: bool = False
    ) -> None:
        self.diffs.append(Difference(self.dimension, subject, prod, env, score, note, intended))

    def unscored(self, subject: str, prod: Any, env: Any, why: str) -> None:
        self.differ(subject, prod, env, 1.0, NOT_SCORED + why)

    def result(self) -> DimensionScore:
        score = 100.0 * sum(self.terms) / len(self.terms) if self.terms else None
        return DimensionScore(self.dimension, score, self.diffs)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


# versions ---------------------------------------------------------------------------------


def _versions(production: ProductionProfile, environment: ProductionProfile) -> DimensionScore:
    tally = _Tally(Dimension.versions)
    for name, prod_svc in production.services.items():
        env_svc = environment.services.get(name)
        if env_svc is None:
            continue  # topology counts a missing service
        prod, env = _version(prod_svc), _version(env_svc)
        if prod is None or env is None:
            if prod != env:
                side = "production" if prod is None else "the environment"
                tally.unscored(name, prod, env, f"{side} names no version")
            continue
        score, note = compare_versions(prod, env)
        if score is None:
            tally.unscored(name, prod, env, note)
            continue
        tally.terms.append(score)
        if prod != env:
            tally.differ(name, prod, env, score, note)
    return tally.result()


def _version(svc: ServiceProfile) -> str | None:
    if svc.version:
        return svc.version
    if not svc.image:
        return None
    last = svc.image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


_NUMBERS = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def compare_versions(prod: str, env: str) -> tuple[float | None, str]:
    """Score and note for two version strings: same major and minor 1, same major 0.8,
    another major 0; None when either is not a version ('latest')."""
    if prod == env:
        return 1.0, ""
    p, e = _NUMBERS.match(prod), _NUMBERS.match(env)
    if p is None or e is None:
        return None, f"cannot compare {env!r} {ENV} with {prod!r} {PROD}"
    pn = tuple(int(x) for x in p.groups() if x is not None)
    en = tuple(int(x) for x in e.groups() if x is not None)
    both = f"{env} {ENV}, {prod} {PROD}"
    older = "the environment is older" if en < pn else "the environment is newer"
    if pn[0] != en[0]:
        return 0.0, f"major version {en[0]} {ENV}, {pn[0]} {PROD}: {older}"
    if len(pn) < 2 or len(en) < 2:
        side = "production" if len(pn) < 2 else "the environment"
        return SAME_MAJOR, f"same major version; {side} names no minor: {both}"
    if pn[1] != en[1]:
        return SAME_MAJOR, f"minor version {both}: {older}"
    return 1.0, f"same major and minor version: {both}"


# topology ---------------------------------------------------------------------------------


def _topology(production: ProductionProfile, environment: ProductionProfile) -> DimensionScore:
    tally = _Tally(Dimension.topology)
    for name in production.services:
        present = name in environment.services
        tally.terms.append(1.0 if present else 0.0)
        if not present:
            tally.differ(name, "present", None, 0.0, "in production, missing from the environment")
    for name in environment.services:
        if name not in production.services:
            tally.unscored(name, None, "present", "only in the environment")
    return tally.result()


# resources --------------------------------------------------------------------------------


def _resources(
    production: ProductionProfile, environment: ProductionProfile, scale: Intentional
) -> DimensionScore:
    tally = _Tally(Dimension.resources)
    for name, prod_svc in production.services.items():
        env_svc = environment.services.get(name)
        if env_svc is None:
            continue
        pairs: list[tuple[str, float | None, float | None]] = [
            ("cpu", prod_svc.resources.cpu, env_svc.resources.cpu),
            ("memory", prod_svc.resources.memory, env_svc.resources.memory),
            ("replicas", prod_svc.replicas, env_svc.replicas),
        ]
        for what, prod, env in pairs:
            subject = f"{name} {what}"
            target, expected, intent = _resource_target(what, prod, scale)
            if prod is None and env is None:
                continue
            if target is None or env is None:
                side = "production" if target is None else "the environment"
                tally.unscored(subject, prod, env, f"{side} gives no {what}")
                continue
            score = log_score(env, target, expected)
            tally.terms.append(score)
            if env == prod and score == 1.0:
                continue
            note = f"{_amount(what, env)} {ENV}, {_amount(what, prod)} {PROD}"
            if intent:
                note += f"; intentional: {intent}"
            tally.differ(subject, prod, env, score, note, bool(intent))
    return tally.result()


def _resource_target(
    what: str, prod: float | None, scale: Intentional
) -> tuple[float | None, float, str]:
    """What the environment's amount is compared with, the ratio expected, and the
    declared scale-down behind it: ``replicas: 1`` is the target whatever production runs."""
    if what == "replicas":
        if scale.replicas is not None:
            return scale.replicas, 1.0, f"replicas {scale.replicas}"
        return prod, 1.0, ""
    if scale.resources_scale is not None:
        return prod, scale.resources_scale, f"resources_scale {scale.resources_scale:g}"
    return prod, 1.0, ""


def _amount(what: str, value: float | None) -> str:
    if value is None:
        return "unknown"
    if what == "memory":
        for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size:
                return f"{value / size:.4g}{unit}"
        return f"{value:g} bytes"
    return f"{value:g} cpu" if what == "cpu" else f"{value:g}"


# data volume ------------------------------------------------------------------------------


def _data_volume(
    production: ProductionProfile, environment: ProductionProfile, scale: Intentional
) -> DimensionScore:
    tally = _Tally(Dimension.data_volume)
    expected = scale.data_scale or 1.0
    for name, prod_svc in production.services.items():
        env_svc = environment.services.get(name) or ServiceProfile()
        env_keys = {_pattern(p): n for p, n in env_svc.keyspaces.items()}
        counted = [
            (f"{name}.{t}", p.rows, e.rows if (e := env_svc.tables.get(t)) else None, "rows")
            for t, p in prod_svc.tables.items()
        ] + [
            (f"{name}.{p}", n, env_keys.get(_pattern(p)), "keys")
            for p, n in prod_svc.keyspaces.items()
        ]
        for subject, prod, env, unit in counted:
            if env is None:
                tally.terms.append(0.0)
                note = f"{prod:,} {unit} {PROD}, missing from the environment"
                tally.differ(subject, prod, None, 0.0, note)
                continue
            score = log_score(env, prod, expected, decades=2.0)
            tally.terms.append(score)
            if env == prod and scale.data_scale is None:
                continue
            note = f"{env:,} {unit} {ENV}, {prod:,} {PROD} ({_percent(env, prod)})"
            if scale.data_scale is not None:
                note += f"; intentional: data_scale {scale.data_scale:g}"
                if score < 1.0:
                    note += f", which means about {round(prod * expected):,}"
            tally.differ(subject, prod, env, score, note, scale.data_scale is not None)
        for table, env_table in env_svc.tables.items():
            if table not in prod_svc.tables:
                why = f"{env_table.rows:,} rows {ENV}, a table production's profile lacks"
                tally.unscored(f"{name}.{table}", None, env_table.rows, why)
    return tally.result()


def _pattern(pattern: str) -> str:
    """'session:{id}' (a blueprint) and 'session:*' (a capture) name the same keyspace."""
    return re.sub(r"\{[^}]*\}", "*", pattern)


def _percent(env: float, prod: float) -> str:
    return f"{100 * env / prod:.3g}%" if prod else "production has none"


# data shape -------------------------------------------------------------------------------


def _data_shape(production: ProductionProfile, environment: ProductionProfile) -> DimensionScore:
    tally = _Tally(Dimension.data_shape)
    prod_columns, env_columns = _count_stats(production), _count_stats(environment)
    if not prod_columns or not env_columns:
        if prod_columns:
            why = "the environment has no column statistics (static audits cannot see data shape)"
            tally.unscored("*", f"{prod_columns} columns", None, why)
        elif env_columns:
            why = "production's profile has no column statistics"
            tally.unscored("*", None, f"{env_columns} columns", why)
        return tally.result()
    for name, prod_svc in production.services.items():
        env_svc = environment.services.get(name) or ServiceProfile()
        for table, prod_table in prod_svc.tables.items():
            env_table = env_svc.tables.get(table)
            if env_table is None or not prod_table.columns:
                continue  # data_volume lists a missing table
            if not env_table.columns:
                tally.unscored(f"{name}.{table}", None, None, f"no column statistics {ENV}")
                continue
            for column, prod_stats in prod_table.columns.items():
                subject = f"{name}.{table}.{column}"
                env_stats = env_table.columns.get(column)
                if env_stats is None:
                    tally.unscored(subject, None, None, f"no statistics for this column {ENV}")
                    continue
                terms = compare_columns(prod_stats, prod_table.rows, env_stats, env_table.rows)
                if not terms:
                    tally.unscored(subject, None, None, "no statistic known on both sides")
                    continue
                score = _mean([t.score for t in terms])
                tally.terms.append(score)
                if score < 1.0:
                    note = "; ".join(t.note for t in terms if t.score < 1.0)
                    prod_values = {t.statistic: t.production for t in terms}
                    env_values = {t.statistic: t.environment for t in terms}
                    tally.differ(subject, prod_values, env_values, score, note)
    return tally.result()


def _count_stats(profile: ProductionProfile) -> int:
    return sum(len(t.columns) for s in profile.services.values() for t in s.tables.values())


@dataclass(frozen=True)
class Term:
    """One statistic of one column compared; values kept JSON-safe (numbers, text keys)."""

    statistic: str
    score: float
    production: Any
    environment: Any
    note: str


def compare_columns(
    prod: ColumnStats, prod_rows: int, env: ColumnStats, env_rows: int
) -> list[Term]:
    """One term per statistic both sides know: null_frac, n_distinct (see ``_distinct``),
    most common values (their frequency vectors over the values of both)."""
    terms = []
    if prod.null_frac is not None and env.null_frac is not None:
        score = max(0.0, 1.0 - abs(env.null_frac - prod.null_frac) * 2)
        note = f"null_frac {env.null_frac:.3g} {ENV}, {prod.null_frac:.3g} {PROD}"
        terms.append(Term("null_frac", score, prod.null_frac, env.null_frac, note))
    distinct = _distinct(prod, prod_rows, env, env_rows)
    if distinct is not None:
        statistic, p_value, e_value, what = distinct
        score = log_score(e_value, p_value, decades=2.0)
        note = f"distinct values: {e_value:.3g}{what} {ENV}, {p_value:.3g}{what} {PROD}"
        terms.append(Term(statistic, score, p_value, e_value, note))
    p_freqs, e_freqs = _frequencies(prod), _frequencies(env)
    if p_freqs is not None and e_freqs is not None:
        values = sorted(set(p_freqs) | set(e_freqs))
        distance = sum(abs(e_freqs.get(v, 0.0) - p_freqs.get(v, 0.0)) for v in values) / 2
        score = max(0.0, 1.0 - distance)
        note = f"most common values: {distance:.0%} of their frequency differs"
        terms.append(Term("most_common_freqs", score, p_freqs, e_freqs, note))
    return terms


def _distinct(
    prod: ColumnStats, prod_rows: int, env: ColumnStats, env_rows: int
) -> tuple[str, float, float, str] | None:
    """Distinct values as pg_stats means them: negative when they grow with the rows (ids,
    emails), compared as shares so that 1% of the rows can match; otherwise a domain that
    does not grow (5 countries), compared as counts, a share converted with its rows."""
    p, e = prod.n_distinct, env.n_distinct
    if p is None or e is None:
        return None
    if p < 0 and e < 0:
        return "n_distinct_share", -p, -e, " of the rows"
    return "n_distinct", (p if p >= 0 else -p * prod_rows), (e if e >= 0 else -e * env_rows), ""


def _frequencies(stats: ColumnStats) -> dict[str, float] | None:
    # Values compare as text: pg_stats gives text, a YAML profile may give numbers.
    if stats.most_common_vals is None or stats.most_common_freqs is None:
        return None
    return dict(zip(map(str, stats.most_common_vals), stats.most_common_freqs, strict=False))


# latency ----------------------------------------------------------------------------------


def _latency(production: ProductionProfile, environment: ProductionProfile) -> DimensionScore:
    tally = _Tally(Dimension.latency)
    env_edges = {(e.from_, e.to): e for e in environment.edges}
    prod_edges = {(e.from_, e.to) for e in production.edges}
    for edge in production.edges:
        wanted = _given(edge.latency)
        if not wanted:
            continue  # production measured no latency on it (an error rate only)
        found = env_edges.get((edge.from_, edge.to))
        env_latency = _given(found.latency) if found else {}
        why = (
            ""
            if env_latency
            else "no link injects it"
            if found is None
            else "the link injects none"
        )
        edge_terms = []
        for q, prod in wanted.items():
            subject = f"{edge.from_} -> {edge.to} {q}"
            env = env_latency.get(q, 0.0 if why else None)
            if env is None:
                tally.unscored(subject, prod, None, f"the link gives no {q} ({_ms(prod)} {PROD})")
                continue
            score = max(0.0, 1.0 - abs(env - prod) / prod) if prod else float(env == 0)
            edge_terms.append(score)
            if env != prod:
                note = f"{q} {_ms(env)} {ENV}, {_ms(prod)} {PROD}"
                tally.differ(subject, prod, env, score, f"{note}: {why}" if why else note)
        if edge_terms:  # edges weigh the same, whatever percentiles each was measured at
            tally.terms.append(_mean(edge_terms))
    for key, edge in env_edges.items():
        given = _given(edge.latency)
        if key not in prod_edges and given:
            why = "production's profile has no latency for this edge"
            tally.unscored(f"{edge.from_} -> {edge.to}", None, given, why)
    return tally.result()


def _given(latency: EdgeLatency) -> dict[str, float]:
    return {q: v for q in PERCENTILES if (v := getattr(latency, q)) is not None}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.4g} ms"
