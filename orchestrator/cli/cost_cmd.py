"""`envctl cost`: what runs cost, from the run ledger: reports, and exports for finance."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.common import App, output_choice, pass_app
from orchestrator.exceptions import EnvctlError, UsageError

REPORT_FORMATS = ("text", "json", "markdown", "html")
EXPORT_FORMATS = ("csv", "json")
WHEN_EXAMPLES = "e.g. 30d, 12h, 90m, or a date: 2024-10-01 (UTC)"
SINCE_HELP = "How far back: 30d, 12h, or a date (UTC)."


@click.group()
def cost() -> None:
    """Spend per run, blueprint, team, tier and runtime, from the run ledger."""


_report_format = output_choice(
    REPORT_FORMATS, "text for terminals, markdown for $GITHUB_STEP_SUMMARY, html for a page."
)


@cost.command()
@click.option("--since", default="30d", show_default=True, metavar="WHEN", help=SINCE_HELP)
@click.option("--until", default=None, metavar="WHEN", help="Window end (default: now).")
@click.option(
    "--by",
    default="blueprint",
    show_default=True,
    metavar="DIMENSION",
    help="blueprint, owner, tier or runtime.",
)
@click.option(
    "--incident-cost", "incident_cost", metavar="USD", help="What one production incident costs."
)
@click.option(
    "--budgets", "budgets_file", metavar="FILE", help="Team budgets: teams.NAME.monthly_usd."
)
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write to FILE.")
@_report_format
@pass_app
def report(
    app: App,
    since: str,
    until: str | None,
    by: str,
    incident_cost: str | None,
    budgets_file: str | None,
    out: str | None,
    output: str,
) -> None:
    """Spend over a window, grouped, per day, against budgets, and what it caught."""
    from orchestrator.cost import report as cost_report

    now = datetime.now(UTC)
    cost_report.check_dimension(by)
    start = parse_when(since, now, "--since")
    end = parse_when(until, now, "--until") if until else now
    if end <= start:
        raise UsageError(
            f"--since {since!r} is not before --until {until or 'now'!r}",
            hint="the window starts at --since and ends at --until",
        )
    team_budgets: dict[str, float] = {}
    if budgets_file:
        from orchestrator.cost.budget import load_team_budgets

        team_budgets = load_team_budgets(Path(budgets_file))
    rows = _rows(app, cost_report.rows_needed_since(start, end), end)
    built = cost_report.build(
        rows,
        by=by,
        since=start,
        until=end,
        incident_cost_usd=parse_usd(incident_cost) if incident_cost is not None else None,
        budgets=team_budgets,
    )
    if output == "html":
        text = _html(built, now)
    else:
        render = {
            "text": cost_report.render_text,
            "json": cost_report.to_json,
            "markdown": cost_report.render_markdown,
        }[output]
        text = render(built)
    _write(app, text, out)


@cost.command()
@click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True
)
@click.option("--since", default="30d", show_default=True, metavar="WHEN", help=SINCE_HELP)
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write to FILE.")
@pass_app
def export(app: App, fmt: str, since: str, out: str | None) -> None:
    """Every run in the window, one per line (CSV) or whole (JSON), for finance tools."""
    from orchestrator.cost.ledger import Ledger, to_csv

    start = parse_when(since, datetime.now(UTC), "--since")
    path = app.settings.ledger_db
    if path.exists():
        text = Ledger(path).export(fmt, since=start)
    else:
        app.say(f"no run ledger yet at {path}: `envctl run` records every run there")
        text = to_csv([]) if fmt == "csv" else "[]"
    _write(app, text, out)


def _rows(app: App, since: datetime, until: datetime) -> list[Any]:
    from orchestrator.cost.ledger import Ledger

    path = app.settings.ledger_db
    if not path.exists():  # a report must not create the state dir as a side effect
        app.say(f"no run ledger yet at {path}: `envctl run` records every run there")
        return []
    return Ledger(path).rows(since=since, until=until)


def _html(built: Any, now: datetime) -> str:
    try:
        from orchestrator.report import cost_html
    except ModuleNotFoundError as exc:
        if exc.name != "orchestrator.report.cost_html":
            raise
        raise EnvctlError(
            "this envctl has no HTML cost report", hint="use -o markdown or -o json"
        ) from None
    since, until = built.since[:10], built.until[:10]
    title = f"envctl cost report: {since} to {until}, by {built.by}"
    html: str = cost_html.render(built, title=title, generated_at=now)
    return html


def _write(app: App, text: str, out: str | None) -> None:
    text = app.redactor(text)
    if not out:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        Path(out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {out!r}: {exc.strerror or exc}", hint="check the --out path"
        ) from None
    app.say(f"wrote {out}")


def parse_when(value: str, now: datetime, option: str) -> datetime:
    """A point in time from ``30d`` (that long before ``now``), ``now``, or an ISO date or
    time; a date or time without a zone is UTC, like the ledger."""
    from orchestrator.blueprint.units import parse_duration

    text = value.strip()
    if text == "now":
        return now
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        raise UsageError(f"{option} {value!r} has no unit", hint=WHEN_EXAMPLES)
    try:
        return now - timedelta(seconds=parse_duration(text))
    except (ValueError, OverflowError):
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is neither a duration nor a date", hint=WHEN_EXAMPLES
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_usd(value: str) -> float:
    """Dollars as people write them: ``25000``, ``25,000`` or ``$25000``."""
    try:
        amount = float(value.strip().lstrip("$").replace(",", ""))
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount) or amount < 0:
        raise UsageError(
            f"--incident-cost {value!r} is not an amount in USD",
            hint="the cost of one production incident, e.g. --incident-cost 25000",
        )
    return amount
