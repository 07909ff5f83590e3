"""The run's HTML page: self-contained, every number where a person looks, nothing trusted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orchestrator.report import run_facts, run_html, svg
from tests.unit.report.html_page import Page
from tests.unit.report.run_samples import HOSTILE_LINK, HOSTILE_SERVICE, HOSTILE_SUITE, XSS


def bars(page: Page, kind: str) -> list[dict[str, str]]:
    return [a for a in page.having("bar", "rect") if a.get("data-kind") == kind]


def test_the_page_needs_nothing_from_anywhere(passed: dict[str, Any]) -> None:
    html = run_html.render(passed)
    page = Page(html)
    assert page.tags["script"] == 0 and page.tags["link"] == 0 and page.tags["img"] == 0
    assert not any("src" in a or "href" in a for _, a in page.elements)
    assert not re.search(r"https?://", html)
    (csp,) = [a for t, a in page.elements if t == "meta" and "http-equiv" in a]
    assert csp["content"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert run_html.render(passed) == html  # deterministic


def test_the_header_carries_verdict_duration_tests_cost_fidelity(passed: dict[str, Any]) -> None:
    page = Page(run_html.render(passed))
    (verdict,) = page.having("verdict")
    assert verdict["data-status"] == "passed"
    tiles = {k: v for a in page.having("tile") for k, v in a.items() if k.startswith("data-")}
    assert float(tiles["data-duration"]) == passed["duration_seconds"]
    assert tiles["data-tests"] == str(passed["suites"][0]["tests"]["total"])
    assert tiles["data-failing"] == "0"
    assert float(tiles["data-cost-usd"]) == passed["cost"]["total_usd"]
    assert float(tiles["data-fidelity"]) == passed["fidelity"]["overall"]
    total = passed["suites"][0]["tests"]["total"]
    assert "PASSED" in page.text and f"{total} of {total} passed" in page.text


def test_the_timeline_has_a_lane_per_service_in_start_order(passed: dict[str, Any]) -> None:
    page = Page(run_html.render(passed))
    lanes = [a["data-name"] for a in page.having("lane", "g") if a["data-kind"] == "service"]
    spans = sorted(
        (s for s in passed["timeline"] if s["kind"] == "service"),
        key=lambda s: (s["start"], s["name"]),
    )
    assert lanes == [s["name"] for s in spans]
    services = bars(page, "service")
    assert [b["data-name"] for b in services] == lanes
    assert [float(b["data-start"]) for b in services] == [s["start"] for s in spans]
    xs = [float(b["x"]) for b in services]
    assert xs == sorted(xs)
    for bar in page.having("bar", "rect"):
        assert float(bar["width"]) > 0, bar
    assert {b["data-name"] for b in bars(page, "seed")} == {s["service"] for s in passed["seeding"]}
    assert [b["data-name"] for b in bars(page, "phase")] == [
        s["name"] for s in passed["timeline"] if s["kind"] == "phase"
    ]
    (suite,) = bars(page, "suite")
    assert (suite["data-status"], suite["fill"]) == ("passed", svg.STATUS["passed"])


def test_the_charts_carry_the_runs_numbers(passed: dict[str, Any]) -> None:
    page = Page(run_html.render(passed))
    charts = {a["class"].split()[1]: a for t, a in page.elements if t == "svg"}
    assert set(charts) == {"timeline", "ready", "fidelity", "cost-phase", "cost-service"}

    def values(chart: str) -> dict[str, float]:
        """The bars after the chart's own <svg> start and before the next chart's."""
        out, inside = {}, False
        for tag, attrs in page.elements:
            if tag == "svg":
                inside = chart in attrs.get("class", "").split()
            elif inside and "data-value" in attrs:
                out[attrs["data-name"]] = float(attrs["data-value"])
        return out

    assert values("ready") == {n: s["ready_seconds"] for n, s in passed["services"].items()}
    assert values("fidelity") == {
        n: d["score"] for n, d in passed["fidelity"]["dimensions"].items()
    }
    assert values("cost-service") == {
        n: c["total_usd"] for n, c in passed["cost"]["by_service"].items()
    }
    by_phase = values("cost-phase")
    assert by_phase == {n: c["total_usd"] for n, c in passed["cost"]["by_phase"].items()}
    # Each phase's cost is rounded on its own: they add up to the total, nearly.
    assert sum(by_phase.values()) == pytest.approx(passed["cost"]["total_usd"], rel=1e-3)


def test_the_tables_list_every_phases_detail(passed: dict[str, Any]) -> None:
    page = Page(run_html.render(passed))
    rows = [a for t, a in page.elements if t == "tr"]
    assert [a["data-service"] for a in rows if "data-service" in a] == list(passed["services"])
    (suite,) = [a for a in rows if "data-suite" in a]
    total = passed["suites"][0]["tests"]["total"]
    assert (suite["data-status"], suite["data-tests"]) == ("passed", str(total))
    assert [a["data-seed"] for a in rows if "data-seed" in a] == ["db", "cache"]
    assert [a["data-link"] for a in rows if "data-link" in a] == [
        link["name"] for link in passed["links"]
    ]
    assert "latency 9x, provider_stall 1x" in page.text
    assert "310,500" in page.text and "miss" in page.text
    took = run_facts.seconds(passed["phases"]["teardown"])
    assert f"Complete in {took}; nothing was left behind." in page.text


def test_an_errored_run_shows_its_error_log_and_partial_timeline(errored: dict[str, Any]) -> None:
    page = Page(run_html.render(errored))
    (verdict,) = page.having("verdict")
    assert verdict["data-status"] == "error"
    (alert,) = page.having("alert")
    assert "error" in alert["class"].split()
    assert errored["error"]["message"] in page.text
    assert errored["error"]["log_tail"] in page.text
    failed = [b for b in bars(page, "service") if b["data-status"] == "failed"]
    assert [b["data-name"] for b in failed] == ["broken"]
    assert failed[0]["fill"] == svg.STATUS["failed"]
    assert "No suites ran." in page.text and "not audited" in page.text
    assert not bars(page, "suite")


def test_a_failed_run_colours_suites_by_status(failed_demo: dict[str, Any]) -> None:
    page = Page(run_html.render(failed_demo))
    suites = {b["data-name"]: b["fill"] for b in bars(page, "suite")}
    assert suites == {"contract": svg.STATUS["failed"], "smoke": svg.STATUS["timeout"]}
    (verdict,) = page.having("verdict")
    assert verdict["data-status"] == "failed"
    tiles = {k: v for a in page.having("tile") for k, v in a.items() if k.startswith("data-")}
    assert (tiles["data-tests"], tiles["data-failing"]) == ("5", "3")


def test_leftovers_are_shown_before_everything_else(leftover_run: dict[str, Any]) -> None:
    html = run_html.render(leftover_run)
    page = Page(html)
    (alert,) = page.having("alert")
    assert "leftovers" in alert["class"].split()
    assert html.index("Teardown left 2 resource(s) behind") < html.index("Timeline")
    for item in leftover_run["teardown"]["leftovers"]:
        assert item in page.text


def test_hostile_names_stay_text(hostile: dict[str, Any]) -> None:
    html = run_html.render(hostile)
    page = Page(html)
    assert page.tags["script"] == 0 and page.tags["img"] == 0 and page.tags["x"] == 0
    assert "<script" not in html and "<img" not in html
    assert not any(k.startswith("on") for _, a in page.elements for k in a)
    assert XSS in page.text and HOSTILE_SUITE in page.text and HOSTILE_LINK in page.text
    lanes = {a["data-name"] for a in page.having("lane", "g")}
    assert {HOSTILE_SERVICE, HOSTILE_SUITE} <= lanes
    (main,) = [a for t, a in page.elements if t == "main"]
    assert main["data-env"] == hostile["env"]


def test_a_run_with_nothing_in_it(bare: dict[str, Any]) -> None:
    page = Page(run_html.render(bare))
    for note in (
        "This run recorded no timeline.",
        "No service became ready.",
        "No cost was measured.",
        "No suites ran.",
        "This blueprint seeds no data.",
        "No links",
    ):
        assert note in page.text, note
    assert page.tags["svg"] == 0


def test_spans_that_are_not_spans_do_not_break_the_page(errored: dict[str, Any]) -> None:
    """An old or hand-edited result.json: the page is the one without them."""
    clean = run_html.render(errored)
    errored["timeline"][:0] = [
        "junk",
        {"kind": "phase", "name": "provision", "end": 1.0, "status": "failed"},
        {"kind": "phase", "name": "seed", "start": 0.0, "end": 1.0},
    ]
    assert run_html.render(errored) == clean
