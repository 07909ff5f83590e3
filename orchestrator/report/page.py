"""What the two HTML reports (a run's, ``run_html``; the cost report, ``cost_html``) share:
the document around them, the stylesheet they start from, cards, tiles, table rows and
timestamps, so both pages look like one product and are fixed in one place.

Everything is a pure function to an HTML string. ``heading``, ``label`` and ``note``
arguments are text (escaped here); ``content``, ``value`` and table cells are HTML
already, escaped by the caller that built them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

# The page may fetch nothing (see cost_html's docstring for why): a Content-Security-Policy
# says so to the browser, and the only style is the inline sheet.
_HEAD = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
)


def document(title: str, css: str, body: str, main_attrs: str = "") -> str:
    """A whole page: ``BASE_CSS`` then ``css`` (a page's own rules, which win), and
    ``body`` inside ``<main>`` (with ``main_attrs``, HTML attributes, on it)."""
    main = f"<main {main_attrs}>" if main_attrs else "<main>"
    return (
        f"{_HEAD}<title>{escape(title)}</title>\n<style>{BASE_CSS}{css}</style>\n</head>\n"
        f"<body>\n{main}\n{body}\n</main>\n</body>\n</html>\n"
    )


def card(heading: str, content: str, cls: str = "") -> str:
    return f'<section class="card {cls}"><h2>{escape(heading)}</h2>{content}</section>'


def tile(label: str, value: str, attrs: str = "", note: str | None = None) -> str:
    """A big number in a box (``value`` is HTML), with a line under it when ``note``."""
    under = f'<div class="note">{escape(note)}</div>' if note is not None else ""
    return (
        f'<div class="tile" {attrs}><div class="label">{escape(label)}</div>'
        f'<div class="value">{value}</div>{under}</div>'
    )


def tiles(items: Sequence[str]) -> str:
    return f'<div class="tiles">{"".join(items)}</div>'


def row(cells: Sequence[str], tag: str = "td", attrs: str = "", text: int = 1) -> str:
    """A table row of HTML cells: the first ``text`` of them words, the rest numbers
    (aligned right)."""
    tds = "".join(
        f"<{tag}>{c}</{tag}>" if i < text else f'<{tag} class="num">{c}</{tag}>'
        for i, c in enumerate(cells)
    )
    return f"<tr{attrs}>{tds}</tr>"


def count(n: int) -> str:
    """A count in a table, red when there is any (failures, errors)."""
    return f'<span class="bad">{n:,}</span>' if n else "0"


def when(iso: str, *, seconds: bool = False) -> str:
    """An ISO timestamp to the minute (or second), with its zone; anything else as it came."""
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    offset = parsed.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else parsed.strftime(" UTC%z")
    return parsed.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + zone


BASE_CSS = """
:root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --bg: #f4f6f8;
  --ok: #1b6e30; --warn: #8a5300; --bad: #b42318; color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
  sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 32px; }
h2 { font-size: 17px; margin: 0 0 12px; overflow-wrap: anywhere; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 16px; margin-bottom: 20px; }
.tile, .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; }
.tile { padding: 12px 16px; }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .05em; font-weight: 600; }
.tile .value { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card { padding: 16px 20px; margin-bottom: 20px; min-width: 0; }
svg.chart { display: block; width: 100%; height: auto; font-size: 12px; }
svg text { fill: var(--ink); }
svg .grid line { stroke: var(--line); }
svg .value { font-variant-numeric: tabular-nums; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; list-style: none; padding: 0;
  margin: 10px 0 0; font-size: 13px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 7px; vertical-align: -1px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left;
  overflow-wrap: break-word; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase;
  letter-spacing: .04em; }
.num { text-align: right; white-space: nowrap; }
.bad { color: var(--bad); font-weight: 600; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 13px;
  font-weight: 600; background: #e4e7eb; white-space: nowrap; }
.badge.ok { background: #e3f4e8; color: var(--ok); }
.badge.warn { background: #fff1cc; color: var(--warn); }
.badge.exceeded { background: #fde4e1; color: var(--bad); }
code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.empty { color: var(--muted); font-style: italic; margin: 0; }
footer { color: var(--muted); font-size: 13px; text-align: center; overflow-wrap: anywhere; }
"""
