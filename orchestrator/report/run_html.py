"""One run as a self-contained HTML page: verdict, timeline, charts, every phase's table.

Like the cost report (``cost_html``, whose reasons apply here), the page is a CI artefact
opened from disk: no script, no fonts, no stylesheet or image from anywhere — a
Content-Security-Policy forbids fetching — just inline CSS and SVG, deterministic for a
given run. It reads top-down the way a failed run is investigated: the verdict and its
numbers, what went wrong (error, leftovers), where the time went, then the detail.
Every string from the run goes through ``svg.text``; a name like ``<script>`` stays text.
The frame, base stylesheet, cards and tiles are ``page``'s, shared with the cost report.
"""

from __future__ import annotations

from typing import Any

from orchestrator.cost.model import usd
from orchestrator.report import page, run_charts, run_facts, run_tables, svg, timeline
from orchestrator.report.run_facts import seconds
from orchestrator.report.svg import text


def render(data: dict[str, Any]) -> str:
    """``data`` (a run's JSON) as an HTML document."""
    title = f"envctl run {data.get('blueprint', '')}: {run_facts.verdict(data)}"
    body = "\n".join(
        b
        for b in [
            _header(data),
            _error(data),
            _leftovers(data),
            page.card("Timeline", timeline.render(timeline.layout(data)), "timeline-card"),
            _pair(
                page.card("Time to ready", run_charts.ready_chart(data)),
                page.card(_fidelity_heading(data), run_charts.fidelity_chart(data)),
            ),
            _pair(
                page.card(
                    _cost_heading(data), run_charts.cost_by_phase_chart(data) + _budget(data)
                ),
                page.card("Cost by service", run_charts.cost_by_service_chart(data)),
            ),
            page.card("Services", run_tables.services(data)),
            page.card("Suites", run_tables.suites(data)),
            page.card("Seeding", run_tables.seeding(data)),
            page.card("Links and faults", run_tables.links(data)),
            page.card("Teardown", _teardown(data)),
            _warnings(data),
            f"<footer>envctl · {text(data.get('run_dir', ''))}</footer>",
        ]
        if b
    )
    env, status = text(data.get("env", "")), text(data.get("status", ""))
    main = f'class="run" data-env="{env}" data-status="{status}"'
    return page.document(title, _CSS, body, main)


def _header(data: dict[str, Any]) -> str:
    status = str(data.get("status", ""))
    counts = run_facts.run_counts(data)
    cost, fidelity = run_facts.cost_total(data), run_facts.fidelity(data)
    budget = run_facts.budget(data)
    suites = data.get("suites") or []
    tiles = [
        _tile(
            "Duration",
            seconds(data.get("duration_seconds")),
            _slowest_phase(data),
            _data("duration", data.get("duration_seconds")),
        ),
        _tile(
            "Tests",
            f"{counts.passed:,} of {counts.total:,} passed" if suites else "none ran",
            f"{len(suites)} suite{'s' if len(suites) != 1 else ''}"
            + (f", {counts.failing:,} failing" if counts.failing else ""),
            f'data-tests="{counts.total}" data-failing="{counts.failing}"',
        ),
        _tile(
            "Cost",
            usd(cost) if cost is not None else "—",
            f"budget {budget['status']}" if budget.get("status") else "no budget set",
            _data("cost-usd", cost),
        ),
        _tile(
            "Fidelity",
            f"{fidelity:.1f}/100" if fidelity is not None else "—",
            _profile(data) if fidelity is not None else "not audited",
            _data("fidelity", fidelity),
        ),
    ]
    meta = [
        f"<code>{text(data.get('env', ''))}</code>",
        f"runtime {text(data.get('runtime', ''))}",
    ]
    if data.get("owner"):
        meta.append(f"owner {text(data['owner'])}")
    if data.get("tier"):
        meta.append(f"tier {text(data['tier'])}")
    meta.append(f"started {text(page.when(str(data.get('started_at', '')), seconds=True))}")
    return (
        f'<header><div class="headline"><span class="verdict {text(status)}" '
        f'data-status="{text(status)}">{text(run_facts.verdict(data))}</span>'
        f"<h1>{text(data.get('blueprint', ''))}</h1></div>"
        f'<p class="meta">{" · ".join(meta)}</p>{page.tiles(tiles)}</header>'
    )


def _tile(label: str, value: str, note: str, attrs: str) -> str:
    """A big number in a box, with one line under it that says what it is made of."""
    return page.tile(label, text(value), attrs, note)


def _slowest_phase(data: dict[str, Any]) -> str:
    phases = [(k, v) for k, v in (data.get("phases") or {}).items() if isinstance(v, int | float)]
    if not phases:
        return "no phase recorded"
    name, took = max(phases, key=lambda p: p[1])
    return f"longest: {name} {seconds(took)}"


def _profile(data: dict[str, Any]) -> str:
    profile = str((data.get("fidelity") or {}).get("profile") or "")
    return f"against {profile.rsplit('/', 1)[-1]}" if profile else "live audit"


def _error(data: dict[str, Any]) -> str:
    error = data.get("error")
    if not error:
        return ""
    phase = run_facts.failed_phase(data)
    parts = [
        f'<p class="message"><strong>{text(error.get("type", "error"))}</strong>'
        + (f" during {text(phase)}" if phase else "")
        + f": {text(error.get('message', ''))}</p>"
    ]
    if error.get("hint"):
        parts.append(f'<p class="hint">hint: {text(error["hint"])}</p>')
    if error.get("log_tail"):
        parts.append(
            f'<p class="hint">last log lines of {text(error.get("service", ""))}:</p>'
            f'<pre class="log">{text(error["log_tail"])}</pre>'
        )
    return page.card("Error", "".join(parts), "alert error")


def _leftovers(data: dict[str, Any]) -> str:
    left = run_facts.leftovers(data)
    if not left:
        return ""
    items = "".join(f"<li><code>{text(item)}</code></li>" for item in left)
    note = (
        "<p>Teardown could not remove these; the run exits 3 until they are gone "
        "(<code>envctl gc</code> reaps what it can find by label).</p>"
    )
    return page.card(
        f"Teardown left {len(left)} resource(s) behind",
        note + f"<ul>{items}</ul>",
        "alert leftovers",
    )


def _fidelity_heading(data: dict[str, Any]) -> str:
    overall = run_facts.fidelity(data)
    return "Fidelity" if overall is None else f"Fidelity {overall:.1f}/100 by dimension"


def _cost_heading(data: dict[str, Any]) -> str:
    total = run_facts.cost_total(data)
    return "Cost by phase" if total is None else f"Cost {usd(total)} by phase"


def _budget(data: dict[str, Any]) -> str:
    budget = run_facts.budget(data)
    if not budget.get("status"):
        return ""
    status = str(budget["status"])
    cls = status if status in ("ok", "warn", "exceeded") else "unknown"
    return (
        f'<p class="budget"><span class="badge {cls}" data-budget="{text(status)}">budget '
        f"{text(status)}</span> {text(budget.get('message') or '')}</p>"
    )


def _teardown(data: dict[str, Any]) -> str:
    left = run_facts.leftovers(data)
    took = run_facts.teardown_seconds(data)
    when = f" in {seconds(took)}" if took is not None else ""
    if left:
        return f'<p class="bad">Incomplete{when}: {len(left)} resource(s) left, listed above.</p>'
    return f'<p data-teardown="complete">Complete{when}; nothing was left behind.</p>'


def _warnings(data: dict[str, Any]) -> str:
    warnings = data.get("warnings") or []
    if not warnings:
        return ""
    items = "".join(f"<li>{text(w)}</li>" for w in warnings)
    return page.card("Warnings", f"<ul>{items}</ul>", "warnings")


# --- helpers -------------------------------------------------------------------------------


def _pair(left: str, right: str) -> str:
    return f'<div class="pair">{left}{right}</div>'


def _data(name: str, value: object) -> str:
    return f'data-{name}="{svg.num(value)}"' if isinstance(value, int | float) else ""


_CSS = """
.headline { display: flex; align-items: center; gap: 16px; }
h1 { font-size: 28px; line-height: 1.2; margin: 0; overflow-wrap: anywhere; }
.meta { color: var(--muted); margin: 6px 0 16px; }
.verdict { display: inline-block; padding: 4px 14px; border-radius: 6px; color: #fff;
  font-weight: 700; letter-spacing: .06em; font-size: 18px; background: #52606d; }
.verdict.passed { background: #59a14f; }
.verdict.failed { background: #e15759; }
.verdict.error { background: #9c2b23; }
.tile .note { font-size: 13px; color: var(--muted); white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
.alert { border-width: 2px; }
.alert.error, .alert.leftovers { border-color: var(--bad); background: #fff5f4; }
.alert h2 { color: var(--bad); }
.message { margin: 0 0 6px; overflow-wrap: anywhere; }
.hint { color: var(--muted); margin: 0 0 6px; overflow-wrap: anywhere; }
pre.log { background: #1f2933; color: #e4e7eb; padding: 10px 12px; border-radius: 6px;
  overflow-x: auto; margin: 4px 0 0; font: 13px/1.45 ui-monospace, "DejaVu Sans Mono",
  monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
svg .grid text, svg .group { fill: var(--muted); }
svg .group { font-size: 11px; font-weight: 600; text-transform: uppercase;
  letter-spacing: .05em; }
svg .band.even { fill: #eef2f6; }
svg .band.odd { fill: #ffffff; }
svg .lane-rule { stroke: #eef2f6; }
svg .phase-name { font-size: 11px; font-weight: 600; }
svg .bar-label { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
svg .bar-label.inside { fill: #fff; font-weight: 600; }
svg .bar.fault { fill-opacity: .85; }
.legend.compact { margin-top: 6px; }
.badge.passed { background: #e3f4e8; color: var(--ok); }
.badge.timeout { background: #fff1cc; color: var(--warn); }
.badge.failed, .badge.error { background: #fde4e1; color: var(--bad); }
.budget { margin: 10px 0 0; color: var(--muted); }
.warnings ul, .alert ul { margin: 0; padding-left: 20px; }
"""
