"""After a run: price what it used, check its budgets, write it to the ledger.

The one place the engine calls for cost; every step is best-effort for the run itself
(a broken price file is reported, the run's own result stands) but never silent.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cost import budget, pricing
from orchestrator.cost.ledger import Ledger, git_commit, row_from_summary
from orchestrator.cost.model import PHASES, RunCost, ServiceUsage, Usage

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint
    from orchestrator.settings import Settings

log = logging.getLogger(__name__)


def with_network(
    usage: dict[str, ServiceUsage], links: list[dict[str, Any]]
) -> dict[str, ServiceUsage]:
    """The bytes each link's proxy carried, charged to its consumer (the ``from`` side,
    the suites for ``suite`` links) in the suites phase, where the traffic is."""
    out = dict(usage)
    for link in links:
        carried = sum(int(v) for v in (link.get("bytes") or {}).values())
        consumer = str(link.get("from") or "")
        if not carried or consumer not in out:
            continue
        current = out[consumer]
        phases = dict(current.phases)
        phases["suites"] = phases.get("suites", Usage()) + Usage(network_bytes=carried)
        out[consumer] = dataclasses.replace(current, phases=phases)
    return out


def price_files(settings: Settings) -> list[Path]:
    """Price books that override the shipped one, in order: the state dir's
    ``prices.yaml`` (a user's), then ``ENVCTL_PRICES`` (a team's; paths joined by ':')."""
    files = [settings.state_dir / "prices.yaml"]
    files = [f for f in files if f.is_file()]
    extra = settings.environ.get("ENVCTL_PRICES", "")
    files += [Path(p) for p in extra.split(os.pathsep) if p]
    return files


def run_cost(
    settings: Settings,
    loaded: LoadedBlueprint,
    usage: Mapping[str, ServiceUsage],
    phases: Mapping[str, float],
) -> RunCost:
    """Price ``usage``; on a CI runner (``CI`` set) its minutes are charged too."""
    book = pricing.load(
        price_files(settings),
        loaded.model.pricing,
        overrides_source=loaded.source,
        overrides_path=("pricing",),
    )
    runner = None
    if settings.environ.get("CI"):
        runner = {p: phases.get(p, 0.0) for p in PHASES}
        runner["provision"] += phases.get("plan", 0.0)
    return pricing.price(usage, book, runner_seconds_by_phase=runner)


def check_budget(
    settings: Settings, loaded: LoadedBlueprint, cost_usd: float
) -> dict[str, Any] | None:
    declared = loaded.model.budget
    if declared is None or (declared.per_run_usd is None and declared.monthly_usd is None):
        return None
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    earlier = Ledger(settings.ledger_db).rows(
        since=month_start - budget.PROJECTION_DAYS * budget.DAY, blueprint=loaded.name
    )
    status = budget.check(cost_usd, declared.per_run_usd, declared.monthly_usd, earlier, now)
    return status.to_dict()


def record(settings: Settings, loaded: LoadedBlueprint, summary: Mapping[str, Any]) -> None:
    """Append the run to the ledger (its git commit, if the blueprint is in a repo)."""
    row = row_from_summary(summary, git_commit(loaded.directory))
    Ledger(settings.ledger_db).append(row)
