"""The cost report page as a browser shows it: Debian's Chromium, headless, at 1280x800.

Chromium parses and lays the page out; the test reads back the numbers the charts carry
from the DOM it dumps, and checks the screenshot is a real picture of the page (its size,
its variety of colours, and the bar colours present); ``report_browser`` runs Chromium
and decodes its PNG.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.cost.report import Caught, CostReport, Group
from orchestrator.report.cost_html import render
from orchestrator.report.svg import PALETTE
from tests.integration.report.report_browser import Chromium, chromium_runner, decode_png
from tests.unit.report.html_page import Page

pytestmark = pytest.mark.browser

XSS = "<script>alert(1)</script>"
WIDTH, HEIGHT = 1280, 800


@pytest.fixture(scope="module")
def sample() -> CostReport:
    """A month of nine blueprints: more than there are colours, one hostile name, one
    costing a few hundredths of a cent."""
    names = ["checkout", "search", "payments", XSS, "inventory", "auth", "mail", "batch", "tiny"]
    start = date(2026, 1, 1)
    days = [(start + timedelta(days=i)).isoformat() for i in range(30)]
    per_group = {
        name: [
            (d, 0.0 if (i + j) % 5 == 0 else round(2.0 / (j + 1) * (1 + i % 4), 4))
            for i, d in enumerate(days)
        ]
        for j, name in enumerate(names[:-1])
    }
    per_group["tiny"] = [(d, 0.0001 if i in (3, 9, 27) else 0.0) for i, d in enumerate(days)]
    groups = sorted(
        (Group(n, 30, 28, 1, 1, sum(v for _, v in per_group[n])) for n in names),
        key=lambda g: -g.cost_usd,
    )
    timeline = [(d, sum(per_group[n][i][1] for n in names)) for i, d in enumerate(days)]
    return CostReport(
        since="2026-01-01T00:00:00+00:00",
        until="2026-01-31T00:00:00+00:00",
        by="blueprint",
        total_usd=sum(g.cost_usd for g in groups),
        runs=sum(g.runs for g in groups),
        groups=groups,
        timeline=timeline,
        timeline_by_group=per_group,
        caught=[Caught(XSS, "x-1a", XSS, "x-2b", "0123456789abcdef", "2026-01-05T10:00:00+00:00")],
        incident_cost_usd=2500.0,
        budgets=[
            {
                "name": "platform",
                "monthly_usd": 300.0,
                "month_to_date_usd": 120.0,
                "projected_usd": 250.0,
                "status": "ok",
            },
            {
                "name": XSS,
                "monthly_usd": 10.0,
                "month_to_date_usd": 12.0,
                "projected_usd": 31.0,
                "status": "exceeded",
            },
        ],
    )


@pytest.fixture(scope="module")
def page(sample: CostReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "cost.html"
    generated = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
    path.write_text(render(sample, title="Cost report", generated_at=generated), "utf-8")
    return path


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    return chromium_runner(tmp_path, WIDTH, HEIGHT)


def test_the_screenshot_is_the_page_at_1280_by_800(
    page: Path, chromium: Chromium, tmp_path: Path
) -> None:
    png = tmp_path / "cost.png"
    chromium(f"--screenshot={png}", page.as_uri())
    width, height, pixels = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    colours = Counter(pixels)
    background, most = colours.most_common(1)[0]
    assert most < 0.9 * width * height, f"mostly one colour #{background.hex()}: a blank page?"
    assert len(colours) > 200, "too few colours for text, charts and tables"
    # The biggest group's colour fills its bars: the charts were drawn, not just text.
    first = bytes.fromhex(PALETTE[0][1:])
    assert colours[first] > 2000, f"the bars' colour {PALETTE[0]} is hardly there"


def test_the_laid_out_dom_carries_the_reports_numbers(
    page: Path, chromium: Chromium, sample: CostReport
) -> None:
    dom = Page(chromium("--dump-dom", page.as_uri()))
    assert dom.tags["svg"] == 2 and dom.tags["script"] == 0  # the hostile name stayed text
    (tile,) = dom.having("tile", attr="data-total-usd")
    assert float(tile["data-total-usd"]) == sample.total_usd

    columns = dom.having("day", attr="data-day")
    assert [c["data-day"] for c in columns] == [d for d, _ in sample.timeline]
    assert sum(float(c["data-usd"]) for c in columns) == pytest.approx(sample.total_usd)
    segments = dom.having("seg", attr="data-usd")
    assert sum(float(s["data-usd"]) for s in segments) == pytest.approx(sample.total_usd)

    bars = dom.having("bar", attr="data-usd")
    assert {b["data-group"]: float(b["data-usd"]) for b in bars} == {
        g.name: g.cost_usd for g in sample.groups
    }
    assert XSS in dom.text and "$0.0003" in dom.text  # the tiny group, not $0.00
