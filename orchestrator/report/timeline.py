"""The run's timeline as a Gantt chart: where its seconds went, lane by lane.

``layout`` turns the run's ``timeline`` spans into lanes — one per service (its start →
ready bar, then its seeding), one per suite (coloured by status), one per link with
scheduled faults — under a band per phase; ``render`` draws them as SVG over a time axis.
Lanes are ordered by when they started, so reading down is reading forward in time.

Bars carry their exact span in ``data-start``/``data-end`` (seconds after the run
began) and a minimum drawn width, so a 10 ms phase is still a visible, hoverable mark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from orchestrator.report import run_facts, svg
from orchestrator.report.run_facts import number, seconds

WIDTH = 1120.0  # SVG user units: about one CSS pixel each in a 1280-pixel-wide window
LABEL_W = 172.0  # the lanes' names
PLOT_X0, PLOT_X1 = LABEL_W + 12, WIDTH - 96  # room on the right for the last bar's text
LANE_H, BAR_H, GROUP_H, PHASE_H, AXIS_H = 26.0, 14.0, 20.0, 24.0, 30.0
MIN_BAR = 2.0  # px: the shortest bar still drawn
Scale = Callable[[float], float]  # seconds after the run began -> x
GROUPS = (("service", "services"), ("suite", "suites"), ("fault", "scheduled faults"))


@dataclass(frozen=True)
class Bar:
    kind: str  # phase | service | seed | suite | fault
    name: str
    status: str
    start: float
    end: float
    label: str  # shown beside the bar
    tip: str  # the tooltip: everything the span knows


@dataclass(frozen=True)
class Lane:
    kind: str  # service | suite | fault
    name: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Timeline:
    phases: tuple[Bar, ...]
    lanes: tuple[Lane, ...]
    end: float  # what the axis spans, in seconds

    @property
    def empty(self) -> bool:
        return not self.phases and not self.lanes


def layout(data: dict[str, Any]) -> Timeline:
    spans = run_facts.spans(data)
    ran = [s for s in spans if s["kind"] != "fault"]
    end = max([float(data.get("duration_seconds") or 0.0), *(float(s["end"]) for s in ran)])
    phases = tuple(_phase(s) for s in spans if s["kind"] == "phase")
    lanes = [*_service_lanes(data, spans), *_suite_lanes(spans), *_fault_lanes(spans, end)]
    return Timeline(phases, tuple(lanes), end)


def _service_lanes(data: dict[str, Any], spans: list[dict[str, Any]]) -> list[Lane]:
    bars: dict[str, list[Bar]] = {}
    for s in spans:
        if s["kind"] == "service":
            bars.setdefault(s["name"], []).append(_service(s))
    # A run recorded before timelines: the services' own offsets give their start → ready.
    for name, s in (data.get("services") or {}).items():
        start, took = s.get("started_offset_seconds"), s.get("ready_seconds")
        if name not in bars and isinstance(start, int | float) and isinstance(took, int | float):
            span = {"name": name, "status": "ready", "start": start, "end": start + took}
            bars[name] = [_service(span | {"seconds": took})]
    for s in spans:
        if s["kind"] == "seed":
            bars.setdefault(s["name"], []).append(_seed(s))
    return _ordered("service", bars)


def _suite_lanes(spans: list[dict[str, Any]]) -> list[Lane]:
    bars: dict[str, list[Bar]] = {}
    for s in spans:
        if s["kind"] == "suite":
            bars.setdefault(s["name"], []).append(_suite(s))
    return _ordered("suite", bars)


def _fault_lanes(spans: list[dict[str, Any]], end: float) -> list[Lane]:
    """Scheduled faults as planned (they count from the suites' start), cut at the run's
    end: a drill planned after the run had finished never fired."""
    bars: dict[str, list[Bar]] = {}
    for s in spans:
        if s["kind"] != "fault" or float(s["start"]) >= end:
            continue
        start, stop = float(s["start"]), float(s["end"])
        tip = f"{s['name']}: {s['status']} from {seconds(start)} to {seconds(stop)}"
        if stop > end:
            tip += " (planned; the run ended first)"
        bar = Bar("fault", str(s["name"]), str(s["status"]), start, min(stop, end), "", tip)
        bars.setdefault(s["name"], []).append(bar)
    return _ordered("fault", bars)


def _ordered(kind: str, bars: dict[str, list[Bar]]) -> list[Lane]:
    """Lanes by when their first bar started (then by name, for equal starts)."""
    lanes = [Lane(kind, name, tuple(sorted(b, key=lambda x: x.start))) for name, b in bars.items()]
    return sorted(lanes, key=lambda lane: (min(b.start for b in lane.bars), lane.name))


def _phase(s: dict[str, Any]) -> Bar:
    took = float(s["end"]) - float(s["start"])
    tip = f"{s['name']}: {s['status']}, {seconds(took)}"
    if isinstance(s.get("overall"), int | float):
        tip += f", fidelity {float(s['overall']):.1f}"
    if s.get("leftovers"):
        tip += f", left {len(s['leftovers'])}"
    return Bar("phase", str(s["name"]), str(s["status"]), s["start"], s["end"], "", tip)


def _service(s: dict[str, Any]) -> Bar:
    took = s.get("seconds", float(s["end"]) - float(s["start"]))
    status = str(s["status"])
    label = f"ready in {seconds(took)}" if status == "ready" else status
    tip = f"{s['name']}: {status} after {seconds(took)}"
    if s.get("version"):
        tip += f", version {s['version']}"
    if s.get("address"):
        tip += f", at {s['address']}"
    if s.get("error"):
        tip += f"\n{s['error']}"
    return Bar("service", str(s["name"]), status, s["start"], s["end"], label, tip)


def _seed(s: dict[str, Any]) -> Bar:
    took = float(s["end"]) - float(s["start"])
    rows = s.get("rows")
    cache = s.get("cache")
    label = f"{number(rows)} rows" if rows is not None else "seeded"
    if cache == "hit":
        label += " (cached)"
    tip = f"seeding {s['name']}: {label}, {seconds(took)}" + (f", cache {cache}" if cache else "")
    return Bar("seed", str(s["name"]), str(s["status"]), s["start"], s["end"], label, tip)


def _suite(s: dict[str, Any]) -> Bar:
    took = s.get("seconds", float(s["end"]) - float(s["start"]))
    tests = s["tests"] if isinstance(s.get("tests"), dict) else {}
    label = f"{s['status']} in {seconds(took)}"
    if tests:
        failing = int(tests.get("failures", 0)) + int(tests.get("errors", 0))
        label += f" · {tests.get('total', 0)} tests" + (f", {failing} failing" if failing else "")
    return Bar("suite", str(s["name"]), str(s["status"]), s["start"], s["end"], label, label)


# --- drawing -------------------------------------------------------------------------------


def render(timeline: Timeline) -> str:
    """The timeline as one SVG element (and an HTML legend under it)."""
    if timeline.empty:
        return '<p class="empty">This run recorded no timeline.</p>'
    step, tick_values = svg.ticks(timeline.end, steps=(1, 2, 5, 10))
    scale = (PLOT_X1 - PLOT_X0) / (tick_values[-1] or 1.0)

    def x(t: float) -> float:
        return PLOT_X0 + max(0.0, t) * scale

    rows, y = [], PHASE_H + 6
    for kind, heading in GROUPS:
        lanes = [lane for lane in timeline.lanes if lane.kind == kind]
        if not lanes:
            continue
        rows.append(
            f'<text class="group" x="8" y="{y + GROUP_H - 6:.1f}">{svg.text(heading)}</text>'
        )
        y += GROUP_H
        for lane in lanes:
            rows.append(_lane(lane, y, x))
            y += LANE_H
    bottom = y + 4
    parts = [
        _bands(timeline.phases, bottom, x),
        _grid(tick_values, step, bottom, x),
        _phase_lane(timeline.phases, x),
        *rows,
    ]
    height = bottom + AXIS_H
    return (
        f'<svg class="chart timeline" viewBox="0 0 {WIDTH:.0f} {height:.0f}" role="img" '
        f'aria-label="Timeline of the run" data-end="{svg.num(timeline.end)}">'
        f"{''.join(parts)}</svg>{_legend(timeline)}"
    )


def _lane(lane: Lane, y: float, x: Scale) -> str:
    name = svg.text(svg.fit(lane.name, LABEL_W - 16))
    bars, taken = [], LABEL_W  # how far right the lane is drawn on, so labels do not overlap
    for i, bar in enumerate(lane.bars):
        following = lane.bars[i + 1] if i + 1 < len(lane.bars) else None
        limit = x(following.start) - 6 if following else WIDTH - 8
        drawn, taken = _bar(bar, y + (LANE_H - BAR_H) / 2, x, taken, limit)
        bars.append(drawn)
    return (
        f'<g class="lane {lane.kind}" data-kind="{lane.kind}" data-name="{svg.attr(lane.name)}">'
        f'<line class="lane-rule" x1="8" x2="{WIDTH - 8:.0f}" y1="{y + LANE_H:.1f}" '
        f'y2="{y + LANE_H:.1f}"/>'
        f'<text class="lane-name" x="16" y="{y + LANE_H / 2:.1f}" dy="0.35em">'
        f"<title>{svg.text(lane.name)}</title>{name}</text>{''.join(bars)}</g>"
    )


def _bar(bar: Bar, y: float, x: Scale, taken: float, limit: float) -> tuple[str, float]:
    """One bar and its label: after the bar when it fits before ``limit`` (the next bar),
    else before it when that is free (right of ``taken``), else inside it when it is wide
    enough, else only in the tooltip."""
    x0 = x(bar.start)
    width = max(MIN_BAR, x(bar.end) - x0)
    label, reach, inside = "", x0 + width, False
    label_w = len(bar.label) * svg.CHAR_PX
    if bar.label and x0 + width + 6 + label_w <= limit:
        lx, anchor, reach = x0 + width + 6, "start", x0 + width + 6 + label_w
    elif bar.label and x0 - 6 - label_w >= taken + 4:
        lx, anchor = x0 - 6, "end"
    elif bar.label and label_w + 12 <= width:  # hemmed in on both sides: inside the bar
        lx, anchor = x0 + 6, "start"
        inside = True
    else:
        lx, anchor = 0.0, ""
    if anchor:
        label = (
            f'<text class="bar-label{" inside" if inside else ""}" x="{lx:.1f}" '
            f'y="{y + BAR_H / 2:.1f}" dy="0.35em" '
            f'text-anchor="{anchor}">{svg.text(bar.label)}</text>'
        )
    drawn = (
        f'<g class="span"><title>{svg.text(bar.tip)}</title>'
        f'<rect class="bar {bar.kind} {svg.attr(bar.status)}" data-kind="{bar.kind}" '
        f'data-name="{svg.attr(bar.name)}" data-status="{svg.attr(bar.status)}" '
        f'data-start="{svg.num(bar.start)}" data-end="{svg.num(bar.end)}" '
        f'x="{x0:.2f}" y="{y:.1f}" width="{width:.2f}" height="{BAR_H:.0f}" rx="2" '
        f'fill="{_colour(bar)}"/>{label}</g>'
    )
    return drawn, reach


def _phase_lane(phases: Iterable[Bar], x: Scale) -> str:
    out = [f'<text class="group" x="8" y="{PHASE_H / 2 + 2:.1f}" dy="0.35em">phases</text>']
    for bar in phases:
        x0 = x(bar.start)
        width = max(MIN_BAR, x(bar.end) - x0)
        fits = len(bar.name) * svg.CHAR_PX + 8 <= width
        name = (
            f'<text class="phase-name" x="{x0 + width / 2:.1f}" y="{PHASE_H / 2 + 2:.1f}" '
            f'dy="0.35em" text-anchor="middle">{svg.text(bar.name)}</text>'
            if fits
            else ""
        )
        out.append(
            f'<g class="span"><title>{svg.text(bar.tip)}</title>'
            f'<rect class="bar phase {svg.attr(bar.status)}" data-kind="phase" '
            f'data-name="{svg.attr(bar.name)}" data-status="{svg.attr(bar.status)}" '
            f'data-start="{svg.num(bar.start)}" data-end="{svg.num(bar.end)}" '
            f'x="{x0:.2f}" y="4" width="{width:.2f}" height="{PHASE_H - 4:.0f}" '
            f'fill="{_colour(bar)}" stroke="#fff" stroke-width="1"/>{name}</g>'
        )
    return "".join(out)


def _bands(phases: Iterable[Bar], bottom: float, x: Scale) -> str:
    """Every other phase shaded down through all lanes, so a bar reads against its phase."""
    out = []
    for i, bar in enumerate(phases):
        x0 = x(bar.start)
        width = max(MIN_BAR, x(bar.end) - x0)
        shade = "even" if i % 2 == 0 else "odd"
        out.append(
            f'<rect class="band {shade}" x="{x0:.2f}" y="{PHASE_H:.0f}" width="{width:.2f}" '
            f'height="{bottom - PHASE_H:.1f}"/>'
        )
    return f'<g class="bands">{"".join(out)}</g>'


def _grid(values: list[float], step: float, bottom: float, x: Scale) -> str:
    lines = "".join(
        f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{PHASE_H:.0f}" y2="{bottom:.1f}"/>'
        f'<text x="{x(t):.1f}" y="{bottom + 18:.1f}" text-anchor="middle">'
        f"{svg.seconds_label(t, step)}</text>"
        for t in values
    )
    return f'<g class="grid axis">{lines}</g>'


def _colour(bar: Bar) -> str:
    if bar.status in ("failed", "interrupted", "error", "timeout"):
        return svg.STATUS.get(bar.status, svg.STATUS["failed"])
    if bar.kind == "suite":
        return svg.STATUS.get(bar.status, svg.NEUTRAL)
    return {
        "service": svg.SERVICE,
        "seed": svg.SEED,
        "fault": svg.FAULT,
        "phase": "#bcccdc",
    }.get(bar.kind, svg.NEUTRAL)


def _legend(timeline: Timeline) -> str:
    present = {(b.kind, b.status) for lane in timeline.lanes for b in lane.bars}
    kinds = {kind for kind, _ in present}
    items = []
    if "service" in kinds:
        items.append((svg.SERVICE, "service start → ready"))
    if "seed" in kinds:
        items.append((svg.SEED, "seeding"))
    for status in ("passed", "failed", "timeout", "error"):
        if ("suite", status) in present:
            items.append((svg.STATUS[status], f"suite {status}"))
    if "fault" in kinds:
        items.append((svg.FAULT, "scheduled fault"))
    if any(kind == "service" and status == "failed" for kind, status in present):
        items.append((svg.STATUS["failed"], "service failed"))
    cells = "".join(
        f'<li><span class="swatch" style="background:{colour}"></span>{svg.text(name)}</li>'
        for colour, name in items
    )
    return f'<ul class="legend">{cells}</ul>' if cells else ""
