"""The cost report as one self-contained HTML page: totals, two charts, tables, budgets, ROI.

Why the charts are SVG written by hand: the page is a CI artefact, opened from disk, mailed
or archived next to the runs, often where there is no network, so it may fetch no chart
library, stylesheet or font (a Content-Security-Policy forbids it). Inlining a chart
library would add hundreds of kilobytes of script to draw a few rectangles, and it would
draw only once script runs, so neither a test nor a reader with script disabled could see
the numbers. Rectangles and text written here render the same in every browser, keep the
function pure and its output byte-for-byte deterministic, and carry the exact numbers in
``data-*`` attributes (``data-total-usd``, ``data-usd``, ``data-day``) that tests read back.
The page's frame, base stylesheet, cards and rows are ``page``'s, shared with the run
report; colours, ticks and bar rows are ``svg``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from orchestrator.cost.model import usd as money
from orchestrator.cost.report import Caught, CostReport, Group
from orchestrator.report import page, svg
from orchestrator.report.svg import CHAR_PX, OTHER_COLOUR, PALETTE

OTHER = "(other)"  # parenthesised like report.NO_OWNER: no group is named so
MAX_BARS = 15  # rows in "spend by …"; the rest are summed into one "other" row
WIDTH = 1120  # SVG user units: about one CSS pixel each in a 1280-pixel-wide window
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BAR_LABEL_W, BAR_ROW_H = 230.0, 30.0  # "spend by": the names' column, one row's height


def render(report: CostReport, *, title: str, generated_at: datetime) -> str:
    """``report`` as a page that needs nothing but a browser; same input, same bytes."""
    colours = _colours(report)
    body = "\n".join(
        [
            _header(report, title),
            page.card("Spend per day", _timeline(report, colours)),
            page.card(f"Spend by {report.by}", _by_group(report, colours)),
            page.card(f"Runs and cost by {report.by}", _groups_table(report, colours)),
            page.card("Budgets", _budgets(report.budgets)),
            page.card("Return on testing", _roi(report), "roi"),
            f"<footer>Generated {escape(page.when(generated_at.isoformat()))} by envctl.</footer>",
        ]
    )
    return page.document(title, _CSS, body)


def _header(report: CostReport, title: str) -> str:
    failing = sum(g.failed + g.errored for g in report.groups)
    per_run = money(report.total_usd / report.runs) if report.runs else "—"
    tiles = [
        ("Total spend", money(report.total_usd), f'data-total-usd="{svg.num(report.total_usd)}"'),
        ("Runs", f"{report.runs:,}", f'data-runs="{report.runs}"'),
        ("Average per run", per_run, ""),
        ("Failed or errored", f"{failing:,} of {report.runs:,}", f'data-failing="{failing}"'),
    ]
    return (
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="window">{escape(page.when(report.since))} → {escape(page.when(report.until))}'
        f" · grouped by {escape(report.by)}</p>{_figures(tiles)}</header>"
    )


def _colours(report: CostReport) -> dict[str, str]:
    """The biggest groups by cost get a colour each, the same in every chart and table."""
    names = [g.name for g in report.groups]
    names += sorted(set(report.timeline_by_group) - set(names))
    return dict(zip(names, PALETTE, strict=False))


# --- spend per day -----------------------------------------------------------------------


def _timeline(report: CostReport, colours: dict[str, str]) -> str:
    if not report.timeline:
        return '<p class="empty">No days in this window.</p>'
    series = [n for n in colours if n in report.timeline_by_group]
    per_group = {n: dict(report.timeline_by_group[n]) for n in series}
    stacks = [
        _stack(usd, {n: per_group[n].get(day, 0.0) for n in series}) for day, usd in report.timeline
    ]
    svg = _timeline_svg(report.timeline, stacks, colours, report.total_usd)
    if len(series) < 2:
        return svg  # one colour needs no key
    used = {name for stack in stacks for name, _ in stack}
    return svg + _legend([n for n in [*series, OTHER] if n in used], colours)


def _timeline_svg(
    days: Sequence[tuple[str, float]],
    stacks: Sequence[list[tuple[str, float]]],
    colours: dict[str, str],
    total: float,
) -> str:
    left, right, bottom, plot_h = 76.0, 12.0, 34.0, 270.0
    slot = (WIDTH - left - right) / len(days)
    widest = max(len(money(usd)) for _, usd in days) * CHAR_PX
    labels = "flat" if slot >= widest + 6 else "rotated" if slot >= 12 else "none"
    _, ticks = svg.ticks(max(usd for _, usd in days), count=4)
    ymax = ticks[-1]
    head = _headroom([usd for _, usd in days], labels, ymax, plot_h)

    def y(usd: float) -> float:
        return head + plot_h - usd / ymax * plot_h

    parts = [_y_axis(ticks, y, left, WIDTH - right)]
    for i, ((day, usd), stack) in enumerate(zip(days, stacks, strict=True)):
        parts.append(_day(day, usd, stack, colours, _Column(left + i * slot, slot, y, labels)))
    parts.append(_x_labels([d for d, _ in days], left, slot, head + plot_h + 22))
    mid = head + plot_h / 2
    parts.append(
        f'<text class="axis-title" x="16" y="{mid:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {mid:.1f})">USD per day</text>'
    )
    return _svg("timeline", head + plot_h + bottom, total, "Spend per day", parts)


def _headroom(values: Sequence[float], labels: str, ymax: float, plot_h: float) -> float:
    """Space above the plot, enough for the totals written over the tallest columns."""
    if labels == "none":
        return 16.0

    def overhang(usd: float) -> float:  # how far a column's total reaches above the plot
        label = len(money(usd)) * CHAR_PX if labels == "rotated" else 14.0
        return label + 10 - plot_h * (1 - usd / ymax)

    return max(16.0, *(overhang(usd) for usd in values))


def _stack(usd: float, split: dict[str, float]) -> list[tuple[str, float]]:
    """A day's segments, bottom up: the coloured groups, then the rest as "other"."""
    segments = [(n, v) for n, v in split.items() if v > 0]
    rest = usd - sum(v for _, v in segments)
    if rest > usd * 1e-9:
        segments.append((OTHER, rest))
    return segments


@dataclass(frozen=True)
class _Column:
    """Where one day's column goes: its slot, the value-to-y scale, how its total is shown."""

    x: float
    slot: float
    y: Callable[[float], float]
    labels: str  # flat | rotated | none


def _day(
    day: str, usd: float, stack: list[tuple[str, float]], colours: dict[str, str], col: _Column
) -> str:
    width = min(64.0, max(1.0, col.slot * 0.72))
    x0 = col.x + (col.slot - width) / 2
    base, rects = 0.0, []
    for name, value in stack:
        top, bottom = col.y(base + value), col.y(base)
        rects.append(
            f'<rect class="seg" data-group="{escape(name)}" data-usd="{svg.num(value)}" '
            f'x="{x0:.1f}" y="{top:.1f}" width="{width:.1f}" height="{bottom - top:.2f}" '
            f'fill="{colours.get(name, OTHER_COLOUR)}"/>'
        )
        base += value
    tip = f"{_day_label(day)}: {money(usd)}"
    if len(stack) > 1:
        tip += "".join(f"\n{name}: {money(v)}" for name, v in stack)
    return (
        f'<g class="day" data-day="{escape(day)}" data-usd="{svg.num(usd)}">'
        f"<title>{escape(tip)}</title>{''.join(rects)}{_total(usd, col)}</g>"
    )


def _total(usd: float, col: _Column) -> str:
    """A day's total above its column: level when it fits, else turned upright."""
    if not usd or col.labels == "none":
        return ""
    cx, ty = col.x + col.slot / 2, col.y(usd) - 6
    turn = f'dy="0.35em" transform="rotate(-90 {cx:.1f} {ty:.1f})"'
    how = 'text-anchor="middle"' if col.labels == "flat" else turn
    return f'<text class="value" x="{cx:.1f}" y="{ty:.1f}" {how}>{money(usd)}</text>'


def _y_axis(ticks: list[float], y: Callable[[float], float], x0: float, x1: float) -> str:
    lines = "".join(
        f'<line x1="{x0}" x2="{x1}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
        f'<text x="{x0 - 8}" y="{y(t):.1f}" dy="0.35em" text-anchor="end">{money(t)}</text>'
        for t in ticks
    )
    return f'<g class="grid">{lines}</g>'


def _x_labels(days: Sequence[str], left: float, slot: float, y: float) -> str:
    every = max(1, math.ceil(60 / slot))
    texts = "".join(
        f'<text x="{left + (i + 0.5) * slot:.1f}" y="{y:.1f}" text-anchor="middle">'
        f"{escape(_day_label(day))}</text>"
        for i, day in enumerate(days)
        if i % every == 0
    )
    return f'<g class="axis">{texts}</g>'


def _day_label(day: str) -> str:
    try:
        parsed = datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        return day
    return f"{MONTHS[parsed.month - 1]} {parsed.day}"


# --- spend by group ----------------------------------------------------------------------


def _by_group(report: CostReport, colours: dict[str, str]) -> str:
    if not report.groups:
        return '<p class="empty">No runs in this window.</p>'
    rows = [
        (g.name, g.cost_usd, colours.get(g.name, OTHER_COLOUR), f'data-group="{escape(g.name)}"')
        for g in report.groups[:MAX_BARS]
    ]
    rest = report.groups[MAX_BARS:]
    if rest:
        usd = sum(g.cost_usd for g in rest)
        rows.append((f"{len(rest)} more", usd, OTHER_COLOUR, f'data-other="{len(rest)}"'))
    scale = (WIDTH - BAR_LABEL_W - 170) / (max(usd for _, usd, _, _ in rows) or 1.0)
    parts = [
        _bar(i, name, usd, usd * scale, colour, attrs, _share(usd, report.total_usd))
        for i, (name, usd, colour, attrs) in enumerate(rows)
    ]
    height = 16 + len(rows) * BAR_ROW_H
    return _svg("by-group", height, report.total_usd, f"Spend by {report.by}", parts)


def _bar(i: int, name: str, usd: float, width: float, colour: str, attrs: str, share: str) -> str:
    """Row ``i`` of "spend by": the name (cut short, whole in the tooltip), bar and value."""
    return svg.bar_row(
        name if len(name) <= 30 else name[:29] + "…",
        f"{name}: {money(usd)}",
        f"{money(usd)} · {share}",
        x=BAR_LABEL_W,
        y=8 + i * BAR_ROW_H,
        width=width,
        height=18,
        colour=colour,
        attrs=f'{attrs} data-usd="{svg.num(usd)}"',
    )


def _svg(cls: str, height: float, total: float, label: str, parts: Iterable[str]) -> str:
    return (
        f'<svg class="chart {cls}" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-label="{escape(label)}" data-total-usd="{svg.num(total)}">{"".join(parts)}</svg>'
    )


def _legend(names: Sequence[str], colours: dict[str, str]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{colours.get(n, OTHER_COLOUR)}"></span>'
        f"{escape(n)}</li>"
        for n in names
    )
    return f'<ul class="legend">{items}</ul>'


# --- tables ------------------------------------------------------------------------------


def _groups_table(report: CostReport, colours: dict[str, str]) -> str:
    if not report.groups:
        return '<p class="empty">No runs in this window.</p>'
    head = page.row(
        [escape(report.by), "runs", "passed", "failed", "errored", "cost", "share"], "th"
    )
    body = "".join(_group_row(g, report.total_usd, colours) for g in report.groups)
    totals = [
        "total",
        f"{report.runs:,}",
        *(
            f"{sum(getattr(g, k) for g in report.groups):,}"
            for k in ("passed", "failed", "errored")
        ),
        money(report.total_usd),
        _share(report.total_usd, report.total_usd),
    ]
    return (
        f'<table class="groups"><thead>{head}</thead><tbody>{body}</tbody>'
        f"<tfoot>{page.row(totals)}</tfoot></table>"
    )


def _group_row(g: Group, total: float, colours: dict[str, str]) -> str:
    swatch = f'<span class="swatch" style="background:{colours.get(g.name, OTHER_COLOUR)}"></span>'
    cells = [
        swatch + escape(g.name),
        f"{g.runs:,}",
        f"{g.passed:,}",
        page.count(g.failed),
        page.count(g.errored),
        money(g.cost_usd),
        _share(g.cost_usd, total),
    ]
    return page.row(cells, attrs=f' data-group="{escape(g.name)}" data-usd="{svg.num(g.cost_usd)}"')


def _budgets(budgets: Sequence[dict[str, Any]]) -> str:
    if not budgets:
        return '<p class="empty">No budgets are set.</p>'
    head = page.row(["budget", "monthly", "month to date", "projected", "", "status"], "th")
    rows = "".join(_budget_row(b) for b in budgets)
    return f'<table class="budgets"><thead>{head}</thead><tbody>{rows}</tbody></table>'


def _budget_row(b: dict[str, Any]) -> str:
    """One budget: its amounts, a meter (spent so far, a mark at the projection), status."""
    monthly, spent = float(b.get("monthly_usd") or 0), float(b.get("month_to_date_usd") or 0)
    projected, status = float(b.get("projected_usd") or 0), str(b.get("status", ""))
    cls = status if status in ("ok", "warn", "exceeded") else "unknown"
    meter = (
        f'<div class="meter {cls}" title="month to date, and projected (the mark)">'
        f'<span class="fill" style="width:{_pct(spent, monthly):.1f}%"></span>'
        f'<span class="mark" style="left:{_pct(projected, monthly):.1f}%"></span></div>'
    )
    why = f' title="{escape(str(b["message"]))}"' if b.get("message") else ""
    badge = f'<span class="badge {cls}"{why}>{escape(status)}</span>'
    name = escape(str(b.get("name", "")))
    attrs = f' data-budget="{name}" data-status="{escape(status)}"'
    if b.get("kind"):  # team or blueprint
        name += f' <span class="kind">{escape(str(b["kind"]))}</span>'
    return page.row(
        [name, money(monthly), money(spent), money(projected), meter, badge], attrs=attrs
    )


def _roi(report: CostReport) -> str:
    n, spend = len(report.caught), report.total_usd
    figures = [("Caught before release", f"{n:,}", f'data-caught="{n}"')]
    value = report.value_usd
    if value is None or report.incident_cost_usd is None:
        note = "No incident cost is set, so the value of these catches is not estimated."
    else:
        figures.append(("Value of the catches", money(value), f'data-value-usd="{svg.num(value)}"'))
        figures.append(("Test spend", money(spend), f'data-spend-usd="{svg.num(spend)}"'))
        if spend:
            ratio = value / spend
            figures.append(("Return", f"{ratio:,.1f}&times;", f'data-ratio="{svg.num(ratio)}"'))
        note = (
            f"Each defect is valued at {money(report.incident_cost_usd)}, the cost of an "
            "incident in production: a run that failed and passed on a later commit is a "
            "defect that was fixed before it was released."
        )
    lead = f'{_figures(figures)}<p class="note">{escape(note)}</p>'
    if not report.caught:
        return lead
    head = page.row(["blueprint", "failed run", "failed at", "fixed by"], "th", text=4)
    body = "".join(_caught_row(c) for c in report.caught)
    return f'{lead}<table class="caught"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _figures(items: Sequence[tuple[str, str, str]]) -> str:
    """Big numbers in boxes: (label, value as HTML, data attributes)."""
    return page.tiles([page.tile(label, value, attrs) for label, value, attrs in items])


def _caught_row(c: Caught) -> str:
    return page.row(
        [
            escape(c.blueprint),
            _run(c.failed_env, c.failed_commit),
            escape(page.when(c.failed_at)),
            _run(c.fixed_env, c.fixed_commit),
        ],
        text=4,
    )


def _run(env: str, commit: str | None) -> str:
    if not commit:
        return escape(env)
    return f'{escape(env)} @ <code title="{escape(commit)}">{escape(commit[:12])}</code>'


# --- small formatting helpers ------------------------------------------------------------


def _share(usd: float, total: float) -> str:
    if not total:
        return "—"
    share = usd / total * 100
    return "&lt;0.1%" if 0 < share < 0.05 else f"{share:.1f}%"


def _pct(part: float, whole: float) -> float:
    return min(100.0, max(0.0, part / whole * 100)) if whole > 0 else 0.0


_CSS = """
h1 { font-size: 26px; line-height: 1.2; margin: 0 0 4px; }
.window { color: var(--muted); margin: 0 0 16px; }
svg .seg { stroke: #fff; stroke-width: 0.75; }
svg .grid text, svg .axis text, svg .axis-title { fill: var(--muted); }
svg .value { font-size: 12px; font-weight: 600; }
.legend { margin-left: 76px; }
tfoot td { font-weight: 700; border-bottom: 0; }
.meter { position: relative; height: 8px; min-width: 180px; background: #e4e7eb;
  border-radius: 4px; }
.meter .fill { position: absolute; inset: 0 auto 0 0; border-radius: 4px; background: #52606d; }
.meter.ok .fill { background: #3f9c5a; }
.meter.warn .fill { background: #d98e04; }
.meter.exceeded .fill { background: #d64545; }
.meter .mark { position: absolute; top: -4px; bottom: -4px; width: 2px; margin-left: -1px;
  background: var(--ink); }
.roi .tiles { margin-bottom: 8px; }
.roi [data-ratio] .value { color: var(--ok); }
.note { color: var(--muted); margin: 0; }
.kind { color: var(--muted); font-size: 13px; }
.roi table { margin-top: 12px; }
"""
