"""The cost report: spend over a window of the ledger, grouped, per day, against budgets,
and what the spend bought (defects caught before release).

``build`` turns ledger rows into a ``CostReport``; the renderers are pure functions of
it (text for terminals, Markdown for ``$GITHUB_STEP_SUMMARY``, JSON; the HTML page lives
in ``orchestrator.report.cost_html``). Days are UTC days, like the ledger's timestamps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.cost import budget as budgets_
from orchestrator.cost.budget import as_utc
from orchestrator.cost.ledger import LedgerRow
from orchestrator.cost.model import usd
from orchestrator.exceptions import UsageError

DIMENSIONS = ("blueprint", "owner", "tier", "runtime")
NO_OWNER = "(no owner)"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Group:
    """One row of "spend by <dimension>"."""

    name: str  # e.g. the blueprint's name
    runs: int
    passed: int
    failed: int  # suites failed
    errored: int
    cost_usd: float


@dataclass(frozen=True)
class Caught:
    """A defect caught before release: a failed run later fixed."""

    blueprint: str
    failed_env: str
    failed_commit: str | None
    fixed_env: str
    fixed_commit: str | None
    failed_at: str  # ISO timestamp


@dataclass(frozen=True)
class CostReport:
    since: str  # ISO timestamp of the window's start
    until: str
    by: str  # blueprint | owner | tier | runtime
    total_usd: float
    runs: int
    groups: list[Group]  # sorted by cost desc
    timeline: list[tuple[str, float]]  # (day 'YYYY-MM-DD', spend that day), zeros included
    timeline_by_group: dict[str, list[tuple[str, float]]]  # the same per group name
    caught: list[Caught]
    incident_cost_usd: float | None  # user-supplied; None when not given
    budgets: list[dict[str, Any]]  # name, kind, monthly_usd, month_to_date_usd, projected_usd …

    @property
    def value_usd(self) -> float | None:
        """Incidents avoided, priced: caught defects * the cost of one incident."""
        if self.incident_cost_usd is None:
            return None
        return len(self.caught) * self.incident_cost_usd

    def to_dict(self) -> dict[str, Any]:
        def days(points: list[tuple[str, float]]) -> list[dict[str, Any]]:
            return [{"day": d, "usd": round(v, 8)} for d, v in points]

        return {
            "since": self.since,
            "until": self.until,
            "by": self.by,
            "currency": "USD",
            "total_usd": round(self.total_usd, 8),
            "runs": self.runs,
            "groups": [{**asdict(g), "cost_usd": round(g.cost_usd, 8)} for g in self.groups],
            "timeline": days(self.timeline),
            "timeline_by_group": {k: days(v) for k, v in self.timeline_by_group.items()},
            "caught": [asdict(c) for c in self.caught],
            "incident_cost_usd": self.incident_cost_usd,
            "value_usd": self.value_usd,
            "budgets": self.budgets,
        }


def check_dimension(by: str) -> str:
    if by not in DIMENSIONS:
        raise UsageError(f"cannot group costs by {by!r}", hint=f"valid: {', '.join(DIMENSIONS)}")
    return by


def rows_needed_since(since: datetime, until: datetime) -> datetime:
    """How far back ``build`` needs rows: the window, and for budgets the month of
    ``until`` and the week before it (the projection's recent spend)."""
    until = as_utc(until)
    month_start = until.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return min(as_utc(since), month_start, until - budgets_.PROJECTION_DAYS * DAY)


def build(
    rows: Sequence[LedgerRow],
    *,
    by: str,
    since: datetime,
    until: datetime,
    incident_cost_usd: float | None = None,
    budgets: Mapping[str, float] | None = None,
) -> CostReport:
    """The report of runs that started in ``[since, until)``.

    ``rows`` may reach further back (see ``rows_needed_since``): budgets count the whole
    month of ``until``. ``budgets`` are monthly team budgets (owner → USD); blueprints
    that recorded a ``monthly_usd`` in their runs' cost (``cost.budget``) are checked too.
    """
    check_dimension(by)
    since, until = as_utc(since), as_utc(until)
    if until <= since:
        raise UsageError(
            f"the report window is empty: {since.isoformat()} is not before {until.isoformat()}",
            hint="give --since earlier than --until",
        )
    ordered = sorted(rows, key=lambda r: r.started)
    window = [r for r in ordered if since <= r.started < until]
    day_names = _days(since, until)

    members: dict[str, list[LedgerRow]] = {}
    for r in window:
        members.setdefault(_key(r, by), []).append(r)
    groups = sorted(
        (_group(name, rs) for name, rs in members.items()), key=lambda g: (-g.cost_usd, g.name)
    )
    return CostReport(
        since=since.isoformat(),
        until=until.isoformat(),
        by=by,
        total_usd=sum(g.cost_usd for g in groups),
        runs=len(window),
        groups=groups,
        timeline=_timeline(window, day_names),
        timeline_by_group={g.name: _timeline(members[g.name], day_names) for g in groups},
        caught=caught(window),
        incident_cost_usd=incident_cost_usd,
        budgets=_budgets(ordered, budgets or {}, until),
    )


def _key(row: LedgerRow, by: str) -> str:
    value = getattr(row, by)
    return str(value) if value else NO_OWNER


def _group(name: str, rows: list[LedgerRow]) -> Group:
    status = [r.status for r in rows]
    return Group(
        name=name,
        runs=len(rows),
        passed=status.count("passed"),
        failed=status.count("failed"),
        errored=status.count("error"),
        cost_usd=math.fsum(r.cost_usd for r in rows),
    )


def _days(since: datetime, until: datetime) -> list[str]:
    day, last = since.date(), (until - timedelta(microseconds=1)).date()
    out = []
    while day <= last:
        out.append(day.isoformat())
        day += DAY
    return out


def _timeline(rows: Sequence[LedgerRow], days: list[str]) -> list[tuple[str, float]]:
    spend = dict.fromkeys(days, 0.0)
    for r in rows:
        day = r.started.date().isoformat()
        spend[day] = spend.get(day, 0.0) + r.cost_usd
    return [(d, spend[d]) for d in days]


def caught(rows: Sequence[LedgerRow]) -> list[Caught]:
    """Defects caught before release, one per failing streak of a blueprint.

    Per blueprint in time order, a streak starts at a failed run and ends at the next
    passed run. It counts when that pass is on a commit none of the streak's failures
    ran on: the code changed and then passed, so the failure was a defect found and
    fixed. A pass on a failing commit (a flaky test, a fixed environment) counts
    nothing, nor does a run without a commit, where we cannot tell. Errored runs are
    envctl or infrastructure failures: they neither start nor end a streak.
    """
    out: list[Caught] = []
    streaks: dict[str, list[LedgerRow]] = {}
    for r in sorted(rows, key=lambda r: r.started):
        if r.status == "failed":
            streaks.setdefault(r.blueprint, []).append(r)
        elif r.status == "passed" and r.blueprint in streaks:
            failures = streaks.pop(r.blueprint)
            commits = {f.git_commit for f in failures}
            if r.git_commit is not None and None not in commits and r.git_commit not in commits:
                first = failures[0]
                out.append(
                    Caught(
                        blueprint=r.blueprint,
                        failed_env=first.env,
                        failed_commit=first.git_commit,
                        fixed_env=r.env,
                        fixed_commit=r.git_commit,
                        failed_at=first.started_at,
                    )
                )
    return out


def _budgets(
    rows: Sequence[LedgerRow], teams: Mapping[str, float], now: datetime
) -> list[dict[str, Any]]:
    budgeted: list[tuple[str, str, float, list[LedgerRow]]] = [
        (team, "team", monthly, [r for r in rows if r.owner == team])
        for team, monthly in sorted(teams.items())
    ]
    latest: dict[str, float] = {}
    for r in rows:  # oldest first: the last budget a blueprint recorded wins
        monthly = (r.cost.get("budget") or {}).get("monthly_usd")
        if isinstance(monthly, int | float) and not isinstance(monthly, bool):
            latest[r.blueprint] = float(monthly)
    for name, monthly in sorted(latest.items()):
        budgeted.append((name, "blueprint", monthly, [r for r in rows if r.blueprint == name]))
    out = []
    for name, kind, monthly, mine in budgeted:
        status = budgets_.check(0.0, None, monthly, mine, now)
        out.append(
            {
                "name": name,
                "kind": kind,
                "monthly_usd": monthly,
                "month_to_date_usd": round(status.month_to_date_usd, 8),
                "projected_usd": round(status.projected_usd, 8),
                "status": status.status.value,
                "message": status.message,
            }
        )
    return out


# Renderers -----------------------------------------------------------------------------


def _share(part: float, total: float) -> str:
    return f"{part / total:.1%}" if total > 0 else "-"


def _window(report: CostReport) -> str:
    return f"{report.since[:16].replace('T', ' ')} → {report.until[:16].replace('T', ' ')} UTC"


def _roi_line(report: CostReport) -> str | None:
    value = report.value_usd
    if value is None or report.incident_cost_usd is None:
        return None
    n = len(report.caught)
    ratio = f", {value / report.total_usd:,.0f}x the spend" if report.total_usd > 0 else ""
    return (
        f"worth {usd(value)} at {usd(report.incident_cost_usd)} per incident avoided "
        f"({n} caught), against {usd(report.total_usd)} spent{ratio}"
    )


def sparkline(points: Sequence[tuple[str, float]]) -> str:
    """Daily spend as block characters; a dot is a day without spend."""
    peak = max((v for _, v in points), default=0.0)
    blocks = "▁▂▃▄▅▆▇█"
    if peak <= 0:
        return "·" * len(points)
    return "".join(
        "·" if v <= 0 else blocks[min(7, max(0, math.ceil(v / peak * 8) - 1))] for _, v in points
    )


def render_text(report: CostReport) -> str:
    """A table for terminals: name, runs, verdicts, cost, share; then ROI and budgets."""
    title = f"envctl cost by {report.by}, {_window(report)}"
    if not report.runs:
        lines = [title, "no runs recorded in this window"]
    else:
        header = (report.by.upper(), "RUNS", "PASSED", "FAILED", "ERRORED", "COST", "SHARE")
        table = [header]
        for g in report.groups:
            table.append(
                (
                    g.name,
                    str(g.runs),
                    str(g.passed),
                    str(g.failed),
                    str(g.errored),
                    usd(g.cost_usd),
                    _share(g.cost_usd, report.total_usd),
                )
            )
        table.append(
            (
                "TOTAL",
                str(report.runs),
                str(sum(g.passed for g in report.groups)),
                str(sum(g.failed for g in report.groups)),
                str(sum(g.errored for g in report.groups)),
                usd(report.total_usd),
                _share(report.total_usd, report.total_usd),
            )
        )
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines = [title, ""]
        for row in table:
            cells = [row[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join(cells).rstrip())
        peak_day, peak = max(report.timeline, key=lambda p: p[1])
        lines += ["", f"daily spend: {sparkline(report.timeline)}  (peak {usd(peak)}, {peak_day})"]
    lines.append("")
    lines.append(f"defects caught before release: {len(report.caught)}")
    for c in report.caught:
        lines.append(
            f"  {c.blueprint}: failed in {c.failed_env} at {_short(c.failed_commit)} "
            f"({c.failed_at[:10]}), passed in {c.fixed_env} at {_short(c.fixed_commit)}"
        )
    roi = _roi_line(report)
    if roi:
        lines.append(f"  {roi}")
    if report.budgets:
        lines += ["", "budgets this month:"]
        for b in report.budgets:
            lines.append(
                f"  {b['name']} ({b['kind']}): {usd(b['month_to_date_usd'])} of "
                f"{usd(b['monthly_usd'])}, projected {usd(b['projected_usd'])}  {b['status']}"
            )
    return "\n".join(lines)


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "?"


def _md(text: str) -> str:
    """``text`` safe in a Markdown table cell: no pipes, emphasis or HTML."""
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def render_markdown(report: CostReport) -> str:
    """GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY`` and pull requests."""
    lines = [
        f"### envctl cost: {usd(report.total_usd)} over {report.runs} runs",
        "",
        f"{_window(report)}, by {report.by}",
        "",
    ]
    if report.groups:
        lines += [
            f"| {report.by} | runs | passed | failed | errored | cost | share |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for g in report.groups:
            lines.append(
                f"| {_md(g.name)} | {g.runs} | {g.passed} | {g.failed} | {g.errored} "
                f"| {usd(g.cost_usd)} | {_share(g.cost_usd, report.total_usd)} |"
            )
        totals = [sum(getattr(g, k) for g in report.groups) for k in ("passed", "failed")]
        errored = sum(g.errored for g in report.groups)
        lines.append(
            f"| **total** | **{report.runs}** | **{totals[0]}** | **{totals[1]}** "
            f"| **{errored}** | **{usd(report.total_usd)}** | **100%** |"
        )
    else:
        lines.append("_No runs recorded in this window._")
    lines += ["", f"**Defects caught before release: {len(report.caught)}**"]
    roi = _roi_line(report)
    if roi:
        lines += ["", roi[0].upper() + roi[1:] + "."]
    if report.caught:
        lines += [
            "",
            "| blueprint | failed | commit | fixed | commit |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in report.caught:
            lines.append(
                f"| {_md(c.blueprint)} | {_md(c.failed_env)} ({c.failed_at[:10]}) "
                f"| `{_short(c.failed_commit)}` | {_md(c.fixed_env)} "
                f"| `{_short(c.fixed_commit)}` |"
            )
    if report.budgets:
        lines += [
            "",
            "| budget | monthly | month to date | projected | status |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for b in report.budgets:
            icon = {"ok": "✅", "warn": "⚠️", "exceeded": "❌"}.get(b["status"], "")
            lines.append(
                f"| {_md(b['name'])} ({b['kind']}) | {usd(b['monthly_usd'])} "
                f"| {usd(b['month_to_date_usd'])} | {usd(b['projected_usd'])} "
                f"| {icon} {b['status']} |"
            )
    return "\n".join(lines) + "\n"


def to_json(report: CostReport) -> str:
    return json.dumps(report.to_dict(), indent=2)
