"""Plain-text renderings of results, for terminals and CI logs."""

from __future__ import annotations

from typing import Any

from orchestrator.result import RunResult


def run_summary(result: RunResult) -> str:
    data = result.to_dict()
    lines = [
        f"{data['status'].upper()}  {data['env']}  blueprint {data['blueprint']} · "
        f"runtime {data['runtime']} · {data['duration_seconds']:.1f}s"
    ]
    if data["services"]:
        lines.append("services")
        lines += _services(data["services"])
    if data["suites"]:
        lines.append("suites")
        for s in data["suites"]:
            tests = s["tests"]
            counts = (
                f"{tests['total']} tests, {tests['failures'] + tests['errors']} failing"
                if tests
                else "no junit"
            )
            lines.append(
                f"  {s['name']:<16} {s['status']:<8} {s['seconds']:>7.1f}s  {counts}"
                + (f"  junit {s['junit']}" if s["junit"] else "")
            )
    phases = " · ".join(f"{k} {v:.2f}s" for k, v in data["phases"].items())
    if phases:
        lines.append(f"phases  {phases}")
    for w in data["warnings"]:
        lines.append(f"warning: {w}")
    if data["error"]:
        lines.append(f"error: {data['error']['message']}")
    if not data["teardown"]["complete"]:
        lines.append("teardown left: " + ", ".join(data["teardown"]["leftovers"]))
    lines.append(f"reports and logs: {data['run_dir']}")
    return "\n".join(lines)


def _services(services: dict[str, Any]) -> list[str]:
    width = max(len(n) for n in services)
    out = []
    for name, s in services.items():
        version = s["version"] or "-"
        if s["version_drift"]:
            version += f" (declared {s['declared_version']})"
        ready = f"ready {s['ready_seconds']:.2f}s" if s["ready_seconds"] is not None else ""
        out.append(f"  {name:<{width}}  {s['url']:<40}  {version:<22} {ready}")
    return out


def endpoints(env_id: str, services: dict[str, Any], env_file: str | None) -> str:
    lines = [f"environment {env_id} is ready"]
    lines += _services(services)
    if env_file:
        lines.append(f"endpoints as env vars: {env_file}")
    lines.append(f"stop it with: envctl down {env_id}")
    return "\n".join(lines)
