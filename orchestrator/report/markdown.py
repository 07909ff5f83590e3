"""A run as GitHub-flavoured Markdown: the ``$GITHUB_STEP_SUMMARY`` of a CI job.

A step summary is read in a pull request's checks tab, between other jobs' summaries, so
it opens with the verdict and the few numbers a reviewer looks for (tests, duration,
cost, fidelity), then one table per phase. What went wrong — an error, leftovers —
comes right after the headline, not at the end. Every name from a blueprint is escaped
(``|`` would end a table cell, backticks and ``<`` would start markup); log lines go in
a code fence longer than any run of backticks inside them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from orchestrator.audit.render import code_span, escape_md
from orchestrator.cost.model import usd
from orchestrator.report import run_facts
from orchestrator.report.run_facts import number, seconds


def render(data: dict[str, Any]) -> str:
    """``data`` (a run's JSON) as one Markdown document, ending in a newline."""
    blocks = [
        _headline(data),
        _error(data),
        _leftovers(data),
        _services(data),
        _suites(data),
        _seeding(data),
        _faults(data),
        _fidelity(data),
        _cost(data),
        _phases(data),
        _teardown(data),
        _warnings(data),
    ]
    return "\n\n".join(b for b in blocks if b) + "\n"


def _headline(data: dict[str, Any]) -> str:
    counts = run_facts.run_counts(data)
    facts = [
        f"`{_code(str(data.get('env', '')))}`",
        f"runtime {_md(str(data.get('runtime', '')))}",
        seconds(data.get("duration_seconds")),
    ]
    if data.get("suites"):
        tests = "test" if counts.total == 1 else "tests"
        facts.append(f"{counts.total:,} {tests}, {counts.failing:,} failing")
    cost = run_facts.cost_total(data)
    if cost is not None:
        status = run_facts.budget(data).get("status")
        facts.append(f"cost {usd(cost)}" + (f" (budget {_md(str(status))})" if status else ""))
    fidelity = run_facts.fidelity(data)
    if fidelity is not None:
        facts.append(f"fidelity {fidelity:.1f}/100")
    return (
        f"### envctl run {_md(str(data.get('blueprint', '')))}: "
        f"**{run_facts.verdict(data)}**\n\n" + " · ".join(facts)
    )


def _error(data: dict[str, Any]) -> str:
    error = data.get("error")
    if not error:
        return ""
    where = run_facts.failed_phase(data)
    lines = [
        f"**Error** ({_md(str(error.get('type', 'error')))}"
        + (f", during {_md(where)}" if where else "")
        + f"): {_md(str(error.get('message', '')))}"
    ]
    if error.get("hint"):
        lines += ["", f"hint: {_md(str(error['hint']))}"]
    if error.get("log_tail"):
        lines += ["", f"last log lines of {_md(str(error.get('service', '')))}:", ""]
        lines.append(_fence(str(error["log_tail"])))
    return "\n".join(lines)


def _leftovers(data: dict[str, Any]) -> str:
    left = run_facts.leftovers(data)
    if not left:
        return ""
    items = "\n".join(f"- {_md(item)}" for item in left)
    return f"**Teardown left {len(left)} resource(s) behind** (exit code 3):\n\n{items}"


def _services(data: dict[str, Any]) -> str:
    services = data.get("services") or {}
    if not services:
        return ""
    rows = []
    for name, s in services.items():
        drift = "**yes**" if s.get("version_drift") else "no"
        rows.append(
            [
                _md(name),
                seconds(s.get("ready_seconds")),
                _md(str(s.get("version") or "-")),
                _md(str(s.get("declared_version") or "-")),
                drift,
            ]
        )
    head = ["service", "ready in", "version", "declared", "drift"]
    return "**Services**\n\n" + _table(head, "-:---", rows)


def _suites(data: dict[str, Any]) -> str:
    suites = data.get("suites") or []
    if not suites:
        return "No suites ran." if data.get("status") == "error" else ""
    rows = []
    for s in suites:
        counts = run_facts.suite_counts(s)
        status = str(s.get("status", ""))
        shown = status.upper() if status != "passed" else status
        rows.append(
            [
                _md(str(s.get("name", ""))),
                _md(str(s.get("tier", ""))),
                f"**{shown}**" if status != "passed" else shown,
                f"{counts.total:,}" if s.get("tests") else "-",
                f"{counts.failures:,}",
                f"{counts.errors:,}",
                f"{counts.skipped:,}",
                seconds(s.get("seconds")),
            ]
        )
    head = ["suite", "tier", "status", "tests", "failures", "errors", "skipped", "time"]
    return "**Suites**\n\n" + _table(head, "---:::::", rows)


def _seeding(data: dict[str, Any]) -> str:
    seeding = data.get("seeding") or []
    if not seeding:
        return ""
    rows = [
        [
            _md(str(s.get("service", ""))),
            number(s.get("rows")),
            number(s.get("rows_per_second")),
            _md(str(s.get("cache") or "-")),
            seconds(s.get("seconds")),
        ]
        for s in seeding
    ]
    return "**Seeding**\n\n" + _table(["service", "rows", "rows/s", "cache", "time"], "-::-:", rows)


def _faults(data: dict[str, Any]) -> str:
    links = data.get("links") or []
    if not links:
        return ""
    rows = []
    for link in links:
        fired = link.get("faults_fired") or {}
        delay = link.get("injected_delay_ms") or {}
        rows.append(
            [
                _md(str(link.get("name", ""))),
                f"{_md(str(link.get('from', '')))} → {_md(str(link.get('to', '')))}",
                number(link.get("connections_total", 0)),
                ", ".join(f"{_md(k)} {v:,}x" for k, v in fired.items()) or "none",
                _delay(delay),
            ]
        )
    head = ["link", "edge", "connections", "faults fired", "injected delay p50 / p95 / p99"]
    return "**Links and faults**\n\n" + _table(head, "--:--", rows)


def _fidelity(data: dict[str, Any]) -> str:
    overall = run_facts.fidelity(data)
    if overall is None:
        return ""
    profile = str((data.get("fidelity") or {}).get("profile", "")).rsplit("/", 1)[-1]
    head = f"**Fidelity {overall:.1f}/100**" + (f" against `{_code(profile)}`" if profile else "")
    rows = [
        [_md(name), f"{score:.1f}" if score is not None else "not scored"]
        for name, score in run_facts.dimensions(data)
    ]
    return head + "\n\n" + _table(["dimension", "score"], "-:", rows) if rows else head


def _cost(data: dict[str, Any]) -> str:
    total = run_facts.cost_total(data)
    if total is None:
        return ""
    parts = [f"**Cost** {usd(total)}"]
    phases = run_facts.cost_by(data, "by_phase")
    if phases:
        parts.append("by phase: " + ", ".join(f"{_md(n)} {usd(v)}" for n, v in phases))
    services = run_facts.cost_by(data, "by_service")[:3]
    if services:
        parts.append("most: " + ", ".join(f"{_md(n)} {usd(v)}" for n, v in services))
    budget = run_facts.budget(data)
    phrase = run_facts.budget_phrase(budget)
    if phrase:
        parts.append(f"**{_md(phrase)}**" if budget["status"] == "exceeded" else _md(phrase))
    return " · ".join(parts)


def _phases(data: dict[str, Any]) -> str:
    phases = data.get("phases") or {}
    if not phases:
        return ""
    return "**Phases** " + " · ".join(f"{_md(k)} {seconds(v)}" for k, v in phases.items())


def _teardown(data: dict[str, Any]) -> str:
    took = run_facts.teardown_seconds(data)
    left = run_facts.leftovers(data)
    when = f" in {seconds(took)}" if took is not None else ""
    if left:
        return f"**Teardown** incomplete{when}: {len(left)} resource(s) left (listed above)"
    return f"**Teardown** complete{when}, nothing left behind"


def _warnings(data: dict[str, Any]) -> str:
    warnings = data.get("warnings") or []
    if not warnings:
        return ""
    return "**Warnings**\n\n" + "\n".join(f"- {_md(str(w))}" for w in warnings)


# --- helpers -------------------------------------------------------------------------------


def _table(head: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> str:
    """A table; ``align`` has one character per column: ``:`` right-aligned (numbers)."""
    marks = ["---:" if a == ":" else "---" for a in align]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _delay(delay: dict[str, Any]) -> str:
    values = [delay.get(p) for p in ("p50", "p95", "p99")]
    if not any(isinstance(v, int | float) for v in values):
        return "none"
    return " / ".join(f"{v:.1f} ms" if isinstance(v, int | float) else "-" for v in values)


def _md(text: str) -> str:
    """Text for a table cell or a line: markup escaped, on one line."""
    return escape_md(" ".join(text.split()))


def _code(text: str) -> str:
    """Text inside single backticks, on one line."""
    return code_span(" ".join(text.split()))


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"
