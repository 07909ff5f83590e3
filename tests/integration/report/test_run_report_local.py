"""The reports of real demo runs: `envctl run blueprints/checkout.yaml --report DIR` as CI
runs it (``$GITHUB_STEP_SUMMARY`` set), then the HTML page as Chromium lays it out.

Two runs share one step summary, as two steps of one CI job do: the first with
``--fail-under 50`` (the demo scores about 99: exit 0), the second ``--fail-under 100``
(exit 5, its reports written all the same).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from orchestrator.report.svg import SERVICE, STATUS
from tests.conftest import Cli, leftovers
from tests.integration.report.report_browser import chromium_runner, decode_png
from tests.integration.report.report_runs import FILES, Run, run_with_report
from tests.unit.report.html_page import Page

pytestmark = pytest.mark.local

DEMO = "blueprints/checkout.yaml"
WIDTH, HEIGHT = 1280, 900


@dataclass(frozen=True)
class Demo:
    cli: Cli
    first: Run
    second: Run
    summary: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("demo-runs")
    cli = Cli(base / "state")
    summary = base / "step-summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    runs = []
    for name, threshold in (("first", "50"), ("second", "100")):
        runs.append(run_with_report(cli, DEMO, base / name, "--fail-under", threshold, env=env))
    yield Demo(cli, runs[0], runs[1], summary)
    for row in cli.live() if cli.state_dir.exists() else []:
        cli("down", row["env"])


def test_fail_under_gates_on_the_live_fidelity(demo: Demo) -> None:
    first, second = demo.first, demo.second
    assert first.done.returncode == 0, first.done.stderr[-3000:]
    assert 50 <= first.data["fidelity"]["overall"] < 100
    assert second.done.returncode == 5, second.done.stderr[-3000:]
    assert "is below --fail-under 100" in second.done.stderr
    assert second.data["status"] == "passed"  # the suites passed; the gate is fidelity
    for run in (first, second):
        assert sorted(p.name for p in run.report.iterdir()) == sorted(FILES)
        assert leftovers(run.data["env"]) == []


def test_the_four_files_tell_the_same_story(demo: Demo) -> None:
    run = demo.first
    data = run.data
    assert data == json.loads((run.run_dir / "result.json").read_text())
    (suite,) = data["suites"]
    tests = suite["tests"]

    root = ET.fromstring((run.report / "junit.xml").read_text())
    (junit_suite,) = root.findall("testsuite")
    assert junit_suite.get("name") == suite["name"]
    assert (
        int(junit_suite.get("tests", "")) == tests["total"] == len(junit_suite.findall("testcase"))
    )
    assert int(junit_suite.get("failures", "")) == tests["failures"] == 0
    found = {p.get("name"): p.get("value") for p in junit_suite.iter("property")}
    assert found["envctl.env"] == data["env"] and found["envctl.status"] == data["status"]
    written = {
        c.get("name") for c in ET.fromstring(Path(suite["junit"]).read_text()).iter("testcase")
    }
    assert {c.get("name") for c in junit_suite.findall("testcase")} == written

    md = (run.report / "report.md").read_text()
    assert md.startswith(f"### envctl run {data['blueprint']}: **PASSED**")
    assert f"`{data['env']}`" in md and f"{tests['total']} tests, 0 failing" in md

    page = Page((run.report / "report.html").read_text())
    main = page.first("main")
    assert (main["data-env"], main["data-status"]) == (data["env"], data["status"])
    tiles = {k: v for e in page.having("tile") for k, v in e.items()}
    assert tiles["data-tests"] == str(tests["total"]) and tiles["data-failing"] == "0"


def test_every_run_keeps_its_html_and_junit_in_its_run_dir(demo: Demo) -> None:
    for run in (demo.first, demo.second):
        for kept, name in (("report.html", "report.html"), ("envctl-junit.xml", "junit.xml")):
            assert (run.run_dir / kept).read_text() == (run.report / name).read_text()
        last = run.done.stdout.rstrip().splitlines()[-1]
        assert last == (f"report  {run.report / 'report.html'} · junit {run.report / 'junit.xml'}")


def test_the_step_summary_gets_one_report_per_run(demo: Demo) -> None:
    text = demo.summary.read_text()
    assert text.count("### envctl run checkout: **PASSED**") == 2
    first, second = (text.index(f"`{run.data['env']}`") for run in (demo.first, demo.second))
    assert first < second
    assert (
        text
        == (demo.first.report / "report.md").read_text()
        + "\n"
        + (demo.second.report / "report.md").read_text()
    )


def test_envctl_report_renders_the_recorded_run_again(demo: Demo) -> None:
    run = demo.second
    junit = demo.cli("report", run.data["env"], "--format", "junit")
    assert junit.returncode == 0, junit.stderr
    assert junit.stdout == (run.run_dir / "envctl-junit.xml").read_text()
    latest = demo.cli("report")  # the most recent run: the second, as HTML
    assert latest.stdout == (run.run_dir / "report.html").read_text()
    unknown = demo.cli("report", "checkout-000000")
    assert unknown.returncode == 2
    assert f"recent runs: {demo.second.data['env']}, {demo.first.data['env']}" in unknown.stderr


def test_the_page_loads_nothing_from_anywhere(demo: Demo) -> None:
    page = Page((demo.first.report / "report.html").read_text())
    assert page.tags["script"] == 0
    for _, element in page.elements:
        for attr in ("src", "href"):
            assert not element.get(attr, "").startswith(("http://", "https://", "//")), element


@pytest.mark.browser
def test_chromium_lays_the_timeline_out_lane_by_lane(demo: Demo, tmp_path: Path) -> None:
    chromium = chromium_runner(tmp_path, WIDTH, HEIGHT)
    run = demo.first
    dom = Page(chromium("--dump-dom", (run.report / "report.html").as_uri()))
    assert dom.tags["script"] == 0
    lanes = [
        e["data-name"] for e in dom.having("lane", attr="data-kind") if e["data-kind"] == "service"
    ]
    services = run.data["services"]
    assert set(services) <= set(lanes)
    assert len(lanes) == len(set(lanes))  # one lane per service
    bars = [e for e in dom.having("bar", attr="data-kind") if e["data-kind"] == "service"]
    assert [b["data-name"] for b in bars] == lanes
    by_x = [
        b["data-name"]
        for b in sorted(bars, key=lambda b: float(b["x"]))
        if b["data-name"] in services
    ]
    by_offset = sorted(services, key=lambda n: services[n]["started_offset_seconds"])
    # Equal offsets (services started together) may come in either order: compare starts.
    assert [services[n]["started_offset_seconds"] for n in by_x] == [
        services[n]["started_offset_seconds"] for n in by_offset
    ]
    for bar in dom.having("bar", attr="width"):
        assert float(bar["width"]) > 0, bar
    suites = [e for e in dom.having("bar", attr="data-kind") if e["data-kind"] == "suite"]
    assert [(s["data-name"], s["data-status"]) for s in suites] == [("contract", "passed")]
    phases = {
        e["data-name"] for e in dom.having("bar", attr="data-kind") if e["data-kind"] == "phase"
    }
    assert phases == {"plan", "provision", "seed", "audit", "suites", "teardown"}


@pytest.mark.browser
def test_the_screenshot_shows_charts_in_their_colours(demo: Demo, tmp_path: Path) -> None:
    chromium = chromium_runner(tmp_path, WIDTH, HEIGHT)
    png = tmp_path / "run.png"
    chromium(f"--screenshot={png}", (demo.first.report / "report.html").as_uri())
    width, height, pixels = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    colours = Counter(pixels)
    background, most = colours.most_common(1)[0]
    assert most < 0.9 * width * height, f"mostly one colour #{background.hex()}: a blank page?"
    assert len(colours) > 200, "too few colours for text, charts and tables"
    for name, colour in (("passed", STATUS["passed"]), ("service", SERVICE)):
        assert colours[bytes.fromhex(colour[1:])] > 1000, f"the {name} colour {colour} is missing"
