"""Small pieces the report pages' SVG charts share (the run's and the cost report's):
escaping, exact numbers, colours, axis ticks, a bar chart's row.

Everything that reaches the page from a run (names, messages) goes through ``text`` or
``attr``, which escape quotes too, so one helper serves element text and attribute values.
"""

from __future__ import annotations

import math
from html import escape

CHAR_PX = 6.8  # the advance of one 12px character in the UI fonts, for layout estimates

# Tableau 10: distinct hues that stay apart for the common colour-vision deficiencies.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1")
OTHER_COLOUR = "#9aa5b1"

# What a colour means is the same in every chart of the run's page: blue a service
# starting, teal seeding, the status colours for suites (and for the run's badge).
SERVICE = PALETTE[0]
SEED = PALETTE[4]
FAULT = PALETTE[6]
NEUTRAL = OTHER_COLOUR
STATUS = {
    "passed": PALETTE[2],
    "failed": PALETTE[3],
    "timeout": PALETTE[1],
    "error": "#9c2b23",
    "interrupted": PALETTE[1],
}


def text(value: object) -> str:
    return escape(str(value), quote=True)


attr = text


def num(value: float) -> str:
    """An exact float for a ``data-*`` attribute: ``float(it)`` gives the value back."""
    return repr(float(value))


def fit(name: str, width: float) -> str:
    """``name`` cut to about ``width`` pixels of 12px text (the whole is in a tooltip)."""
    room = max(1, int(width / CHAR_PX))
    return name if len(name) <= room else name[: max(1, room - 1)] + "…"


def ticks(
    top: float, count: int = 8, steps: tuple[float, ...] = (1, 2, 2.5, 5, 10)
) -> tuple[float, list[float]]:
    """A round step for an axis from 0 to at least ``top`` in about ``count`` steps (each
    one of ``steps`` times a power of ten), and the ticks up to it."""
    if top <= 0 or not math.isfinite(top):
        return 1.0, [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    n = math.ceil(top / step - 1e-9)
    return step, [step * i for i in range(n + 1)]


def seconds_label(value: float, step: float) -> str:
    """An axis label: '0s', '2.5s', '1m', '1m 30s'."""
    if value >= 60 and step >= 1:
        minutes, rest = divmod(round(value), 60)
        return f"{minutes}m" + (f" {rest:02d}s" if rest else "")
    decimals = 0 if step >= 1 else 1 if step >= 0.1 else 2
    return f"{value:.{decimals}f}s"


def bar_row(
    shown: str,
    tip: str,
    value: str,
    *,
    x: float,
    y: float,
    width: float,
    height: float,
    colour: str,
    attrs: str,
) -> str:
    """One row of a horizontal bar chart: ``shown`` (the name, cut to fit) right-aligned
    before ``x``, the bar from ``x``, then ``value`` (HTML) after it; the tooltip ``tip``
    says it all. ``attrs`` (HTML attributes) carry the row's exact numbers."""
    mid = y + height / 2
    return (
        f'<g class="bar" {attrs}><title>{text(tip)}</title>'
        f'<text x="{x - 10}" y="{mid:.1f}" dy="0.35em" text-anchor="end">{text(shown)}</text>'
        f'<rect x="{x}" y="{y:.1f}" width="{width:.2f}" height="{height:.0f}" rx="2" '
        f'fill="{colour}"/>'
        f'<text class="value" x="{x + width + 8:.1f}" y="{mid:.1f}" dy="0.35em">{value}</text></g>'
    )
