"""The run as a GitHub step summary: the verdict first, a table per phase, names escaped."""

from __future__ import annotations

import re
from typing import Any

from orchestrator.cost.model import usd
from orchestrator.report import markdown
from orchestrator.report.run_facts import seconds
from tests.unit.report.run_samples import HOSTILE_SERVICE, XSS


def tables(text: str) -> list[list[list[str]]]:
    """Every table: its rows (header first, the alignment row dropped) as cells; a cell
    boundary is a pipe not escaped by a backslash."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if not all(re.fullmatch(r"-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def table_with(text: str, header: str) -> list[list[str]]:
    return next(t for t in tables(text) if t[0][0] == header)


def test_a_passed_run(passed: dict[str, Any]) -> None:
    text = markdown.render(passed)
    first = text.splitlines()[0]
    assert first.startswith("### ") and "**PASSED**" in first and passed["blueprint"] in first
    services = table_with(text, "service")
    assert [row[0] for row in services[1:]] == list(passed["services"])
    suites = table_with(text, "suite")
    assert suites[1][0] == "contract" and suites[1][2] == "passed"
    assert suites[1][3] == str(passed["suites"][0]["tests"]["total"])
    (seeding,) = [t for t in tables(text) if t[0][:2] == ["service", "rows"]]
    assert [row[1] for row in seeding[1:]] == [f"{s['rows']:,}" for s in passed["seeding"]]
    links = table_with(text, "link")
    assert [row[0] for row in links[1:]] == [link["name"] for link in passed["links"]]
    assert "latency 9x" in links[1][3]
    fidelity = table_with(text, "dimension")
    assert {row[0].replace("\\_", "_") for row in fidelity[1:]} == set(
        passed["fidelity"]["dimensions"]
    )
    assert f"**Fidelity {passed['fidelity']['overall']:.1f}/100**" in text
    assert f"**Cost** {usd(passed['cost']['total_usd'])}" in text
    budget = passed["cost"]["budget"]
    assert f"budget {budget['status']} ({usd(budget['per_run_usd'])} per run)" in text
    took = seconds(passed["phases"]["teardown"])
    assert f"**Teardown** complete in {took}, nothing left behind" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_every_table_row_has_as_many_cells_as_its_header(
    passed: dict[str, Any], hostile: dict[str, Any], failed_demo: dict[str, Any]
) -> None:
    for data in (passed, hostile, failed_demo):
        for table in tables(markdown.render(data)):
            assert {len(row) for row in table} == {len(table[0])}, table


def test_a_failed_run_says_so_and_which_suite(failed_demo: dict[str, Any]) -> None:
    text = markdown.render(failed_demo)
    assert "**FAILED**" in text.splitlines()[0]
    assert "5 tests, 3 failing" in text  # 4 in the JUnit of one, the other is one
    rows = {row[0]: row for row in table_with(text, "suite")[1:]}
    assert rows["contract"][2] == "**FAILED**" and rows["contract"][4:7] == ["1", "1", "1"]
    assert rows["smoke"][2] == "**TIMEOUT**" and rows["smoke"][3] == "-"


def test_an_errored_run_leads_with_its_error_and_log(errored: dict[str, Any]) -> None:
    text = markdown.render(errored)
    assert "**ERROR**" in text.splitlines()[0]
    error = text.index("**Error** (ServiceError, during provision)")
    assert error < text.index("**Services**")
    assert "hint: see \\`envctl logs" in text
    assert f"```text\n{errored['error']['log_tail']}\n```" in text
    assert "No suites ran." in text


def test_a_log_with_backticks_gets_a_longer_fence(errored: dict[str, Any]) -> None:
    errored["error"]["log_tail"] = "boom\n````\nstill the log"
    text = markdown.render(errored)
    assert "`````text\nboom\n````\nstill the log\n`````" in text


def test_leftovers_come_right_after_the_headline(leftover_run: dict[str, Any]) -> None:
    text = markdown.render(leftover_run)
    left = text.index("**Teardown left 2 resource(s) behind** (exit code 3)")
    assert left < text.index("**Services**")
    assert "- process 4242 postgres" in text
    took = seconds(leftover_run["phases"]["teardown"])
    assert f"**Teardown** incomplete in {took}: 2 resource(s) left" in text


def test_names_cannot_make_markup(hostile: dict[str, Any]) -> None:
    text = markdown.render(hostile)
    # Inside a code span (the env id, the profile) markup is shown as it is, inert.
    assert f"`{XSS}-1a2b`" in text and "`<b>production.yaml`" in text
    text = text.replace(f"`{XSS}-1a2b`", "").replace("`<b>production.yaml`", "")
    assert re.search(r"(?<!\\)[<>]", text) is None, "a < or > that is not escaped"
    assert "\\<script\\>alert(1)\\</script\\>" in text
    services = [row[0] for row in table_with(text, "service")[1:]]
    assert "a\\|b\\`c\\<script\\>alert(1)\\</script\\>" in services
    assert HOSTILE_SERVICE not in text
    assert XSS not in text


def test_a_run_with_nothing_in_it(bare: dict[str, Any]) -> None:
    text = markdown.render(bare)
    assert text.startswith("### envctl run bare: **PASSED**")
    assert tables(text) == []
    assert "**Teardown** complete, nothing left behind" in text


def test_spans_that_are_not_spans_are_skipped(errored: dict[str, Any]) -> None:
    clean = markdown.render(errored)
    errored["timeline"][:0] = [
        "junk",
        {"kind": "phase", "name": "seed", "start": 0.0, "end": 1.0},  # no status
        {"kind": "phase", "name": "audit", "end": 1.0, "status": "failed"},  # no start
    ]
    assert markdown.render(errored) == clean
    assert "during provision" in clean
