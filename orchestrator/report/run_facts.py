"""What every report of one run says the same way: its verdict, test counts, durations.

The JUnit, Markdown and HTML renderers each lay a run out differently, but a run that one
calls FAILED with 3 failing tests must not be ERROR with 2 in another; so the numbers
they share are worked out here, once, from the run's JSON (``RunResult.to_dict()``,
redacted). Every reader is lenient: runs recorded before a field existed lack it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.cost.model import usd

VERDICTS = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR"}
PHASES = ("plan", "provision", "seed", "audit", "suites", "teardown")


@dataclass(frozen=True)
class Counts:
    """Test cases of one suite, or of a run: as JUnit counts them."""

    total: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0

    @property
    def failing(self) -> int:
        return self.failures + self.errors

    @property
    def passed(self) -> int:
        return max(0, self.total - self.failing - self.skipped)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.total + other.total,
            self.failures + other.failures,
            self.errors + other.errors,
            self.skipped + other.skipped,
        )


def verdict(data: dict[str, Any]) -> str:
    """PASSED, FAILED or ERROR: the badge every report leads with."""
    return VERDICTS.get(str(data.get("status")), str(data.get("status", "unknown")).upper())


def suite_counts(suite: dict[str, Any]) -> Counts:
    """From the suite's JUnit when it wrote one; else the suite is one test case."""
    tests = suite.get("tests")
    if tests:
        return Counts(
            int(tests.get("total", 0)),
            int(tests.get("failures", 0)),
            int(tests.get("errors", 0)),
            int(tests.get("skipped", 0)),
        )
    status = suite.get("status")
    return Counts(1, int(status in ("failed", "timeout")), int(status == "error"), 0)


def run_counts(data: dict[str, Any]) -> Counts:
    total = Counts()
    for suite in data.get("suites") or []:
        total += suite_counts(suite)
    return total


def leftovers(data: dict[str, Any]) -> list[str]:
    """What teardown could not remove: empty on every healthy run."""
    return list((data.get("teardown") or {}).get("leftovers") or [])


def spans(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's timeline spans that can be drawn: each has a kind, a name, a status and
    numeric start and end. Others are skipped, not fatal: an old or hand-edited
    result.json must still render."""
    return [s for s in data.get("timeline") or [] if _is_span(s)]


def failed_phase(data: dict[str, Any]) -> str | None:
    """The phase a run's error stopped, from its timeline (the session closes the span
    that was open as ``failed`` or ``interrupted``); None when no span says."""
    for span in spans(data):
        if span["kind"] == "phase" and span["status"] in ("failed", "interrupted"):
            return str(span["name"])
    return None


def fidelity(data: dict[str, Any]) -> float | None:
    overall = (data.get("fidelity") or {}).get("overall")
    return float(overall) if isinstance(overall, int | float) else None


def cost_total(data: dict[str, Any]) -> float | None:
    cost = data.get("cost")
    return float(cost["total_usd"]) if cost and cost.get("total_usd") is not None else None


def budget(data: dict[str, Any]) -> dict[str, Any]:
    return dict((data.get("cost") or {}).get("budget") or {})


def budget_phrase(budget: dict[str, Any]) -> str | None:
    """'budget ok ($0.05 per run)', in the text summary and the Markdown alike; None
    when the run had no budget."""
    if not budget.get("status"):
        return None
    limit = budget.get("per_run_usd")
    per_run = f" ({usd(float(limit))} per run)" if isinstance(limit, int | float) else ""
    return f"budget {budget['status']}{per_run}"


def cost_by(data: dict[str, Any], key: str) -> list[tuple[str, float]]:
    """``by_phase`` / ``by_service`` as (name, USD): phases in run order, services most
    expensive first."""
    groups = (data.get("cost") or {}).get(key) or {}
    rows = [(name, float(parts.get("total_usd") or 0.0)) for name, parts in groups.items()]
    if key == "by_phase":
        order = {p: i for i, p in enumerate(PHASES)}
        return sorted(rows, key=lambda r: order.get(r[0], len(order)))
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def dimensions(data: dict[str, Any]) -> list[tuple[str, float | None]]:
    """The fidelity dimensions and their scores (None: not scored), in the audit's order."""
    dims = (data.get("fidelity") or {}).get("dimensions") or {}
    return [(name, _score(d.get("score"))) for name, d in dims.items()]


def teardown_seconds(data: dict[str, Any]) -> float | None:
    value = (data.get("phases") or {}).get("teardown")
    return float(value) if isinstance(value, int | float) else None


def seconds(value: object) -> str:
    """Durations the same in every report: '4.55s', '0.012s', '1m 05s', '-' for none."""
    if not isinstance(value, int | float):
        return "-"
    if value >= 60:
        minutes, rest = divmod(value, 60)
        return f"{int(minutes)}m {rest:04.1f}s"
    return f"{value:.3f}s" if value < 0.1 else f"{value:.2f}s"


def number(value: object) -> str:
    """A count with thousands separators; '-' when there is none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"


def _is_span(span: object) -> bool:
    if not isinstance(span, dict) or not all(k in span for k in ("kind", "name", "status")):
        return False
    return all(_is_number(span.get(k)) for k in ("start", "end"))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _score(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
