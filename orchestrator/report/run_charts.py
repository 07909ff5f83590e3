"""The run report's bar charts: time to ready per service, cost, fidelity by dimension.

Each is a function of the run's JSON to one SVG element (or a note when the run has no
such numbers), drawn for half the page's width. Bars carry their value in ``data-value``
so a test reads back what a person sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.cost.model import usd
from orchestrator.report import run_facts, svg
from orchestrator.report.run_facts import seconds
from orchestrator.report.svg import PALETTE

WIDTH = 540.0  # half the page, in SVG user units
LABEL_W, ROW_H, BAR_H, VALUE_W = 150.0, 28.0, 16.0, 120.0
COST = "#59708f"  # money: a slate blue, apart from the services' blue on the timeline
# Not the status colours: a phase is not good or bad, and suites' money is not "passed".
PHASE_COLOURS = {
    "plan": svg.NEUTRAL,
    "provision": PALETTE[0],
    "seed": PALETTE[4],
    "audit": PALETTE[6],
    "suites": PALETTE[5],
    "teardown": PALETTE[1],
}


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    shown: str  # the value as text beside the bar
    colour: str


def ready_chart(data: dict[str, Any]) -> str:
    services = data.get("services") or {}
    rows = [
        Row(name, float(s["ready_seconds"]), seconds(s["ready_seconds"]), svg.SERVICE)
        for name, s in services.items()
        if isinstance(s.get("ready_seconds"), int | float)
    ]
    if not rows:
        return _empty("No service became ready.")
    return _bars("ready", "Time to ready per service", rows, max(r.value for r in rows))


def fidelity_chart(data: dict[str, Any]) -> str:
    dims = run_facts.dimensions(data)
    if not dims:
        return _empty("Not audited: the blueprint names no profile and no --audit was given.")
    rows = [
        Row(
            name, score or 0.0, f"{score:.1f}" if score is not None else "not scored", _grade(score)
        )
        for name, score in dims
    ]
    return _bars("fidelity", "Fidelity by dimension", rows, 100.0)


def cost_by_phase_chart(data: dict[str, Any]) -> str:
    """One bar split by phase: where in the run the money went."""
    phases = [(n, v) for n, v in run_facts.cost_by(data, "by_phase") if v > 0]
    total = run_facts.cost_total(data)
    if not phases or not total:
        return _empty("No cost was measured." if total is None else "This run cost nothing.")
    left, span, y = 8.0, WIDTH - 16, 8.0
    x, parts = left, []
    for name, value in phases:
        width = value / total * span
        colour = PHASE_COLOURS.get(name, svg.NEUTRAL)
        parts.append(
            f'<g class="seg"><title>{svg.text(name)}: {usd(value)}</title>'
            f'<rect class="seg" data-name="{svg.attr(name)}" data-value="{svg.num(value)}" '
            f'x="{x:.2f}" y="{y}" width="{max(1.0, width):.2f}" height="22" '
            f'fill="{colour}"/></g>'
        )
        x += width
    legend = "".join(
        f'<li><span class="swatch" style="background:{PHASE_COLOURS.get(n, svg.NEUTRAL)}">'
        f"</span>{svg.text(n)} {usd(v)} · {v / total:.0%}</li>"
        for n, v in phases
    )
    return (
        f'<svg class="chart cost-phase" viewBox="0 0 {WIDTH:.0f} 38" role="img" '
        f'aria-label="Cost by phase" data-total="{svg.num(total)}">{"".join(parts)}</svg>'
        f'<ul class="legend compact">{legend}</ul>'
    )


def cost_by_service_chart(data: dict[str, Any]) -> str:
    # One colour: a service's cost is not good or bad, and red would read as a failure.
    rows = [
        Row(name, value, usd(value), COST) for name, value in run_facts.cost_by(data, "by_service")
    ]
    if not rows:
        return _empty("No cost was measured.")
    if not any(r.value for r in rows):
        return _empty("This run cost nothing.")
    return _bars("cost-service", "Cost by service", rows, max(r.value for r in rows))


def _bars(cls: str, label: str, rows: Sequence[Row], top: float) -> str:
    span = WIDTH - LABEL_W - VALUE_W
    scale = span / top if top > 0 else 0.0
    parts = [
        svg.bar_row(
            svg.fit(row.name, LABEL_W - 14),
            f"{row.name}: {row.shown}",
            svg.text(row.shown),
            x=LABEL_W,
            y=6 + i * ROW_H,
            width=max(2.0, row.value * scale),
            height=BAR_H,
            colour=row.colour,
            attrs=f'data-name="{svg.attr(row.name)}" data-value="{svg.num(row.value)}"',
        )
        for i, row in enumerate(rows)
    ]
    height = 12 + len(rows) * ROW_H
    return (
        f'<svg class="chart {cls}" viewBox="0 0 {WIDTH:.0f} {height:.0f}" role="img" '
        f'aria-label="{svg.attr(label)}">{"".join(parts)}</svg>'
    )


def _grade(score: float | None) -> str:
    if score is None:
        return svg.NEUTRAL
    return svg.STATUS["passed"] if score >= 90 else PALETTE[1] if score >= 70 else PALETTE[3]


def _empty(note: str) -> str:
    return f'<p class="empty">{svg.text(note)}</p>'
