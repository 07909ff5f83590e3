"""Budgets: is this run, and this month, within what the blueprint or team may spend?

A run is checked against its blueprint's ``budget.per_run_usd`` and ``monthly_usd``;
``envctl cost report --budgets`` checks teams the same way. Each check warns from 80%
of a budget, so a team hears before CI starts failing, and projects the month from the
last seven days, because "month to date" alone says little on the 3rd of the month.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cost.model import usd
from orchestrator.exceptions import BlueprintError, Location, UsageError

if TYPE_CHECKING:
    from orchestrator.cost.ledger import LedgerRow

log = logging.getLogger(__name__)

WARN_AT = 0.8  # share of a budget from which a check warns
PROJECTION_DAYS = 7  # recent spend the month's projection is drawn from
DAY = timedelta(days=1)


class Level(enum.StrEnum):
    ok = "ok"
    warn = "warn"  # at 80% of a budget, or on track to exceed the month's
    exceeded = "exceeded"


_ORDER = {Level.ok: 0, Level.warn: 1, Level.exceeded: 2}


@dataclass(frozen=True)
class BudgetStatus:
    """The outcome of one check: the verdict, what it is about, and the numbers."""

    status: Level
    message: str  # what, with the numbers
    hint: str | None
    cost_usd: float  # this run
    per_run_usd: float | None
    monthly_usd: float | None
    month_to_date_usd: float  # including this run
    projected_usd: float  # month to date + recent daily spend * days left

    @property
    def exceeded(self) -> bool:
        return self.status is Level.exceeded

    def to_dict(self) -> dict[str, Any]:
        """The form ``RunCost.budget`` and the ledger keep."""
        return {
            "status": self.status.value,
            "message": self.message,
            "hint": self.hint,
            "cost_usd": round(self.cost_usd, 8),
            "per_run_usd": self.per_run_usd,
            "monthly_usd": self.monthly_usd,
            "month_to_date_usd": round(self.month_to_date_usd, 8),
            "projected_usd": round(self.projected_usd, 8),
        }


def check(
    cost_usd: float,
    per_run_usd: float | None,
    monthly_usd: float | None,
    month_rows: Sequence[LedgerRow],
    now: datetime,
) -> BudgetStatus:
    """Check a run costing ``cost_usd`` against its budgets.

    ``month_rows`` are the *earlier* runs that share the budget (the same blueprint, or
    team), from at least the start of the month; check before appending this run to
    the ledger, or it counts twice. Rows from before the month only feed the
    projection: with any, the rows are taken to cover the whole week before ``now`` (so
    the projection has a week to look at on the 2nd); without, the month so far.
    Rows from ``now`` on are ignored.
    """
    now = as_utc(now)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    spent = [(as_utc(datetime.fromisoformat(r.started_at)), r.cost_usd) for r in month_rows]
    spent = [(t, usd) for t, usd in spent if t < now]
    month_to_date = cost_usd + math.fsum(usd for t, usd in spent if t >= month_start)
    # Average over the last 7 days; when the rows start with the month, over the days of
    # the month so far (at least one, so a run at 00:30 on the 1st is not a day's worth
    # every half hour).
    week_ago = now - PROJECTION_DAYS * DAY
    before_month = any(t < month_start for t, _ in spent)
    window_start = week_ago if before_month else max(week_ago, month_start)
    window_days = max(1.0, (now - window_start) / DAY)
    recent = cost_usd + math.fsum(usd for t, usd in spent if t >= window_start)
    projected = month_to_date + recent / window_days * ((next_month - now) / DAY)

    findings: list[tuple[Level, str, str]] = []
    per_run_hint = (
        "lower the services' resource requests, run fewer suites (--tier), "
        "or raise budget.per_run_usd in the blueprint"
    )
    month_hint = (
        "see where the month went with `envctl cost report --by blueprint`, "
        "or raise the monthly budget"
    )
    if per_run_usd is not None:
        share = _share(cost_usd, per_run_usd)
        if cost_usd > per_run_usd:
            findings.append(
                (
                    Level.exceeded,
                    f"this run cost {usd(cost_usd)}, over its per-run budget of "
                    f"{usd(per_run_usd)} ({share})",
                    per_run_hint,
                )
            )
        elif cost_usd >= WARN_AT * per_run_usd and per_run_usd > 0:
            findings.append(
                (
                    Level.warn,
                    f"this run cost {usd(cost_usd)}, {share} of its per-run budget of "
                    f"{usd(per_run_usd)}",
                    per_run_hint,
                )
            )
    if monthly_usd is not None:
        share = _share(month_to_date, monthly_usd)
        if month_to_date > monthly_usd:
            findings.append(
                (
                    Level.exceeded,
                    f"{usd(month_to_date)} spent this month, over the monthly budget of "
                    f"{usd(monthly_usd)} ({share})",
                    month_hint,
                )
            )
        elif month_to_date >= WARN_AT * monthly_usd and monthly_usd > 0:
            findings.append(
                (
                    Level.warn,
                    f"{usd(month_to_date)} spent this month, {share} of the monthly budget "
                    f"of {usd(monthly_usd)}",
                    month_hint,
                )
            )
        elif projected > monthly_usd:
            findings.append(
                (
                    Level.warn,
                    f"on track for {usd(projected)} this month, over the monthly budget of "
                    f"{usd(monthly_usd)} ({usd(month_to_date)} so far)",
                    month_hint,
                )
            )

    if findings:
        level = max((f[0] for f in findings), key=_ORDER.__getitem__)
        message = "; ".join(f[1] for f in findings)
        hint: str | None = "; ".join(dict.fromkeys(f[2] for f in findings))
    else:
        level, hint = Level.ok, None
        message = _within(cost_usd, per_run_usd, monthly_usd, month_to_date, projected)
    log.debug("budget check: %s: %s", level, message)
    return BudgetStatus(
        level, message, hint, cost_usd, per_run_usd, monthly_usd, month_to_date, projected
    )


def _within(
    cost: float, per_run: float | None, monthly: float | None, mtd: float, projected: float
) -> str:
    if per_run is None and monthly is None:
        return f"no budget set; this run cost {usd(cost)}"
    parts = []
    if per_run is not None:
        parts.append(f"this run {usd(cost)} of {usd(per_run)} per run")
    if monthly is not None:
        parts.append(f"{usd(mtd)} of {usd(monthly)} this month (projected {usd(projected)})")
    return "within budget: " + "; ".join(parts)


def _share(amount: float, budget: float) -> str:
    return f"{amount / budget:.0%}" if budget > 0 else "no budget"


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive time is taken to be UTC already (as the ledger's are)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def load_team_budgets(path: Path) -> dict[str, float]:
    """Monthly budgets per team (a blueprint's ``metadata.owner``) from a YAML file::

    teams:
      payments-team: {monthly_usd: 200}
    """
    from orchestrator.blueprint.source import parse_yaml

    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read budgets file {shown!r}: {getattr(exc, 'strerror', None) or exc}",
            hint="give a YAML file like `teams: {payments-team: {monthly_usd: 200}}`",
        ) from None
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        raise BlueprintError(
            "the budgets file is empty",
            Location(shown, 1, 1),
            hint="write `teams: {payments-team: {monthly_usd: 200}}`",
        )
    data, source = parse_yaml(text, shown)
    example = "e.g. `teams: {payments-team: {monthly_usd: 200}}`"
    if not isinstance(data, dict):
        raise source.error((), "a budgets file must be a mapping", example)
    for key in data:
        if key != "teams":
            raise source.error((key,), f"unknown key {key!r}", "valid: teams")
    teams = data.get("teams")
    if not isinstance(teams, dict):
        raise source.error(("teams",), "teams must map team names to budgets", example)
    out: dict[str, float] = {}
    for team, spec in teams.items():
        where = ("teams", team)
        if not isinstance(spec, dict):
            raise source.error(where, f"team {team!r} needs a mapping", example)
        for key in spec:
            if key != "monthly_usd":
                unitless = key in ("monthly", "budget", "usd", "limit", "amount")
                raise source.error(
                    (*where, key),
                    f"{key!r} has no unit" if unitless else f"unknown key {key!r}",
                    "give the unit: monthly_usd (per-run budgets belong in the blueprint)",
                )
        value = spec.get("monthly_usd")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise source.error(
                (*where, "monthly_usd") if "monthly_usd" in spec else where,
                f"team {team!r} needs monthly_usd as a number, got {value!r}",
                "e.g. `monthly_usd: 200`",
            )
        if not math.isfinite(value) or value < 0:
            raise source.error(
                (*where, "monthly_usd"), f"a budget must be ≥ 0, got {value!r}", None
            )
        out[str(team)] = float(value)
    return out
