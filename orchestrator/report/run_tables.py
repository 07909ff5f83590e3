"""The run report's tables: services, suites, seeding, links and their faults.

Functions of the run's JSON to one HTML ``<table>`` each (or a note when there is
nothing to list). Rows carry ``data-*`` attributes naming what they show; cells are
escaped here, once, with ``svg.text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.report import page, run_facts
from orchestrator.report.run_facts import number, seconds
from orchestrator.report.svg import text


def services(data: dict[str, Any]) -> str:
    services = data.get("services") or {}
    if not services:
        return '<p class="empty">No service started.</p>'
    rows = []
    for name, s in services.items():
        drift = '<span class="bad">drift</span>' if s.get("version_drift") else "no"
        address = f"{s.get('host', '')}:{s.get('port', '')}" if s.get("port") else s.get("host")
        rows.append(
            (
                [
                    text(name),
                    f"<code>{text(address or '-')}</code>",
                    text(s.get("version") or "-"),
                    text(s.get("declared_version") or "-"),
                    drift,
                    seconds(s.get("started_offset_seconds")),
                    seconds(s.get("ready_seconds")),
                ],
                f' data-service="{text(name)}"',
            )
        )
    head = ["service", "address", "version", "declared", "drift", "started at", "ready in"]
    return _table(head, rows, text_columns=5)


def suites(data: dict[str, Any]) -> str:
    suites = data.get("suites") or []
    if not suites:
        return '<p class="empty">No suites ran.</p>'
    rows = []
    for s in suites:
        counts = run_facts.suite_counts(s)
        status = str(s.get("status", ""))
        rows.append(
            (
                [
                    text(s.get("name", "")),
                    text(s.get("tier", "")),
                    f'<span class="badge {text(status)}">{text(status)}</span>',
                    f"<code>{text(s.get('log', ''))}</code>",
                    f"{counts.total:,}" if s.get("tests") else "-",
                    page.count(counts.failures),
                    page.count(counts.errors),
                    f"{counts.skipped:,}",
                    seconds(s.get("seconds")),
                ],
                f' data-suite="{text(s.get("name", ""))}" data-status="{text(status)}" '
                f'data-tests="{counts.total}"',
            )
        )
    head = ["suite", "tier", "status", "log", "tests", "failures", "errors", "skipped", "time"]
    return _table(head, rows, text_columns=4)


def seeding(data: dict[str, Any]) -> str:
    seeding = data.get("seeding") or []
    if not seeding:
        return '<p class="empty">This blueprint seeds no data.</p>'
    rows = [
        (
            [
                text(s.get("service", "")),
                text(s.get("cache") or "-"),
                number(s.get("rows")),
                number(s.get("rows_per_second")),
                seconds(s.get("seconds")),
            ],
            f' data-seed="{text(s.get("service", ""))}"',
        )
        for s in seeding
    ]
    return _table(["service", "cache", "rows", "rows/s", "time"], rows, text_columns=2)


def links(data: dict[str, Any]) -> str:
    links = data.get("links") or []
    if not links:
        return '<p class="empty">No links: services talk to each other directly.</p>'
    rows = []
    for link in links:
        fired = link.get("faults_fired") or {}
        delay = link.get("injected_delay_ms") or {}
        rows.append(
            (
                [
                    text(link.get("name", "")),
                    f"{text(link.get('from', ''))} → {text(link.get('to', ''))}",
                    ", ".join(f"{text(k)} {int(v):,}x" for k, v in fired.items()) or "none",
                    number(link.get("connections_total", 0)),
                    *(_ms(delay.get(p)) for p in ("p50", "p95", "p99")),
                ],
                f' data-link="{text(link.get("name", ""))}"',
            )
        )
    head = ["link", "edge", "faults fired", "connections", "delay p50", "p95", "p99"]
    return _table(head, rows, text_columns=3)


# --- helpers -------------------------------------------------------------------------------


def _table(head: Sequence[str], rows: Sequence[tuple[list[str], str]], text_columns: int) -> str:
    """Cells are HTML already; after the first ``text_columns`` they are numbers."""
    header = page.row([text(h) for h in head], "th", text=text_columns)
    body = "".join(page.row(cells, "td", attrs, text_columns) for cells, attrs in rows)
    return f"<table><thead>{header}</thead><tbody>{body}</tbody></table>"


def _ms(value: object) -> str:
    return f"{value:.1f} ms" if isinstance(value, int | float) else "-"
