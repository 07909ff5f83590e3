"""An audit for people: a terminal table and Markdown for CI step summaries.

Both put the raw differences next to the scores, worst first, because the number alone
does not say what to fix. Pure functions of an ``AuditResult``.
"""

from __future__ import annotations

from orchestrator.audit.model import WEIGHTS, AuditResult, Difference, DimensionScore
from orchestrator.audit.score import NOT_SCORED


def render_text(result: AuditResult) -> str:
    """The dimensions with score, weight and how many differences, then the differences
    grouped by dimension, the worst dimension and the worst difference first."""
    lines = [_headline(result), ""]
    lines.append(f"{'DIMENSION':<12} {'SCORE':>6} {'WEIGHT':>6}  DIFFERENCES")
    for d in result.dimensions:
        lines.append(
            f"{d.dimension.value:<12} {_score(d.score):>6} "
            f"{WEIGHTS[d.dimension]:>6.2f}  {_counts(d)}"
        )
    for d in _worst_first(result.dimensions):
        lines += ["", f"{d.dimension.value} {_score(d.score)}"]
        width = min(40, max(len(x.subject) for x in d.differences))
        for x in _sorted(d.differences):
            lines.append(f"  {x.score:4.2f}  {x.subject:<{width}}  {x.note}")
    return "\n".join(lines)


def render_markdown(result: AuditResult) -> str:
    """GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY`` and pull requests."""
    lines = [
        f"### envctl fidelity: {result.overall:.1f}/100",
        "",
        f"{result.kind} audit of `{code_span(result.subject)}` "
        f"against `{code_span(result.profile)}`",
        "",
        "| dimension | score | weight | differences |",
        "| --- | ---: | ---: | --- |",
    ]
    for d in result.dimensions:
        lines.append(
            f"| {escape_md(d.dimension.value)} | {_score(d.score)} | {WEIGHTS[d.dimension]:.2f} "
            f"| {escape_md(_counts(d))} |"
        )
    lines.append(f"| **overall** | **{result.overall:.1f}** | | |")
    for d in _worst_first(result.dimensions):
        lines += [
            "",
            f"#### {escape_md(d.dimension.value)}: {_score(d.score)}",
            "",
            "| score | subject | difference |",
            "| ---: | --- | --- |",
        ]
        for x in _sorted(d.differences):
            lines.append(f"| {x.score:.2f} | {escape_md(x.subject)} | {escape_md(x.note)} |")
    return "\n".join(lines) + "\n"


def _headline(result: AuditResult) -> str:
    return (
        f"fidelity {result.overall:.1f}/100 · {result.kind} audit of {result.subject} "
        f"against {result.profile}"
    )


def _score(score: float | None) -> str:
    return "-" if score is None else f"{score:.1f}"


def _counts(d: DimensionScore) -> str:
    unscored = sum(1 for x in d.differences if x.note.startswith(NOT_SCORED))
    if d.score is None:
        reasons = [x.note.removeprefix(NOT_SCORED) for x in d.differences]
        return f"not scored: {reasons[0]}" if reasons else "nothing to compare"
    if not d.differences:
        return "none"
    return f"{len(d.differences)}" + (f" ({unscored} not scored)" if unscored else "")


def _worst_first(dimensions: list[DimensionScore]) -> list[DimensionScore]:
    listed = [d for d in dimensions if d.differences and d.score is not None]
    return sorted(listed, key=lambda d: d.score or 0.0)


def _sorted(differences: list[Difference]) -> list[Difference]:
    # Stable: differences that score the same keep the profile's order.
    return sorted(differences, key=lambda x: (x.note.startswith(NOT_SCORED), x.score))


def escape_md(text: str) -> str:
    """``text`` safe in a Markdown table cell: no pipes, emphasis or HTML."""
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def code_span(text: str) -> str:
    """``text`` for inside single backticks: there nothing is markup but a backtick, and
    a pipe still ends a table cell."""
    return text.replace("`", "'").replace("|", "/")
