"""Plain-text renderings of results, for terminals and CI logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.cost.model import usd
from orchestrator.report.run_facts import budget_phrase


def run_summary(data: dict[str, Any]) -> str:
    """``RunResult.to_dict()`` (redacted) as a few lines for a terminal or CI log."""
    lines = [
        f"{data['status'].upper()}  {data['env']}  blueprint {data['blueprint']} · "
        f"runtime {data['runtime']} · {data['duration_seconds']:.1f}s"
    ]
    if data["services"]:
        lines.append("services")
        lines += _services(data["services"])
    if data["suites"]:
        lines.append("suites")
        rows = []
        for s in data["suites"]:
            tests = s["tests"]
            counts = (
                f"{tests['total']} tests, {tests['failures'] + tests['errors']} failing"
                if tests
                else "no junit"
            )
            rows.append((s["name"], s["status"], f"{s['seconds']:.1f}s", counts, s["junit"] or ""))
        lines += _table(rows)
    if data.get("links"):
        lines.append("links")
        lines += _table([_link_row(link) for link in data["links"]])
    phases = " · ".join(f"{k} {v:.2f}s" for k, v in data["phases"].items())
    if phases:
        lines.append(f"phases  {phases}")
    if data.get("cost"):
        lines.append(cost_line(data["cost"]))
    if data.get("fidelity"):
        lines.append(fidelity_line(data["fidelity"]))
    for w in data["warnings"]:
        lines.append(f"warning: {w}")
    if not data["teardown"]["complete"]:
        lines.append("teardown left: " + ", ".join(data["teardown"]["leftovers"]))
    lines.append(f"reports and logs: {data['run_dir']}")
    return "\n".join(lines)


def cost_line(cost: dict[str, Any]) -> str:
    """'cost    $0.000074 · cpu 82% · memory 11% … · budget ok ($0.05 per run)'."""
    total = float(cost["total_usd"])
    parts = [f"cost    {usd(total)}"]
    if total > 0:
        shares = [
            (k.removesuffix("_usd"), float(v) / total)
            for k, v in cost["total"].items()
            if k != "total_usd" and float(v) > 0
        ]
        parts += [f"{name} {share:.0%}" for name, share in sorted(shares, key=lambda x: -x[1])]
    top = sorted(cost["by_service"].items(), key=lambda kv: -float(kv[1]["total_usd"]))[:3]
    if top:
        parts.append("most: " + ", ".join(f"{n} {usd(float(c['total_usd']))}" for n, c in top))
    budget = budget_phrase(cost.get("budget") or {})
    if budget:
        parts.append(budget)
    return " · ".join(parts)


def fidelity_line(fidelity: dict[str, Any]) -> str:
    """'fidelity 87/100 against production.yaml · latency 60 · data_volume 95 · …'."""
    scored = [(k, v["score"]) for k, v in fidelity["dimensions"].items() if v["score"] is not None]
    parts = " · ".join(f"{name} {value:.0f}" for name, value in sorted(scored, key=lambda x: x[1]))
    name = fidelity["profile"].rsplit("/", 1)[-1]
    return f"fidelity {fidelity['overall']:.0f}/100 against {name} · {parts}"


def _services(services: dict[str, Any]) -> list[str]:
    rows = []
    for name, s in services.items():
        version = s["version"] or "-"
        if s["version_drift"]:
            version += f" (declared {s['declared_version']})"
        ready = f"ready {s['ready_seconds']:.2f}s" if s["ready_seconds"] is not None else ""
        rows.append((name, str(s["url"]), version, ready))
    return _table(rows)


def _link_row(link: dict[str, Any]) -> tuple[str, ...]:
    delay = link.get("injected_delay_ms") or {}
    injected = (
        f"delay p50 {delay['p50']:.1f}ms p99 {delay['p99']:.1f}ms"
        if delay.get("p50") is not None
        else "no delay injected"
    )
    fired = ", ".join(f"{k} {v}x" for k, v in (link.get("faults_fired") or {}).items())
    byte_counts = link.get("bytes") or {}
    moved = f"{byte_counts.get('upstream', 0)}↑ {byte_counts.get('downstream', 0)}↓ B"
    return (
        link["name"],
        f"{link.get('connections_total', 0)} conns",
        moved,
        injected,
        fired or "no faults fired",
    )


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def endpoints(data: dict[str, Any]) -> str:
    """What `envctl up` prints once everything is ready."""
    env_id = data["env"]
    lines = [f"environment {env_id} is ready"]
    lines += _services(data["services"])
    lines.append(f"endpoints as env vars: {data['env_file']}")
    for warning in data.get("warnings", []):
        lines.append(f"warning: {warning}")
    lines.append(f"stop it with: envctl down {env_id}")
    return "\n".join(lines)
