"""The cost report page: the charts carry the report's numbers, and nothing is trusted."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from orchestrator.cost.report import Caught, CostReport, Group
from orchestrator.report.cost_html import MAX_BARS, OTHER, PALETTE, money, render

XSS = "<script>alert(1)</script>"
GENERATED = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
CAUGHT = [
    Caught("shop", "shop-1a2b", "deadbeef" * 5, "shop-3c4d", "cafef00d" * 5, "2026-01-03T10:00Z")
]
BUDGETS: list[dict[str, Any]] = [
    {"name": "platform", "kind": "team", "monthly_usd": 100.0, "month_to_date_usd": 4.0,
     "projected_usd": 12.4, "status": "ok", "message": "on track"},
    {"name": "search", "kind": "blueprint", "monthly_usd": 1.0, "month_to_date_usd": 0.75,
     "projected_usd": 2.3, "status": "exceeded", "message": "projected over"},
]  # fmt: skip


class Page(HTMLParser):
    """Every element's tag and attributes, in document order, and the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, attr: str, cls: str | None = None) -> list[dict[str, str]]:
        """The attributes of the elements that have ``attr`` (and the class ``cls``)."""
        return [
            a
            for _, a in self.elements
            if attr in a and (cls is None or cls in a.get("class", "").split())
        ]

    def chart(self, name: str) -> dict[str, str]:
        (svg,) = [a for t, a in self.elements if t == "svg" and name in a["class"].split()]
        return svg


def days(start: date, values: list[float]) -> list[tuple[str, float]]:
    return [((start + timedelta(days=i)).isoformat(), v) for i, v in enumerate(values)]


def report(
    groups: list[Group] | None = None,
    timeline_by_group: dict[str, list[float]] | None = None,
    *,
    caught: list[Caught] | None = None,
    incident_cost_usd: float | None = 5000.0,
    budgets: list[dict[str, Any]] | None = None,
) -> CostReport:
    """A consistent report: totals and the timeline are the sums of what is given."""
    groups = groups or [
        Group("shop", 12, 10, 1, 1, 3.25),
        Group("search", 5, 5, 0, 0, 0.75),
        Group("tiny", 1, 1, 0, 0, 0.0003),
    ]
    per_day = timeline_by_group or {
        "shop": [1.0, 0.0, 2.25],
        "search": [0.25, 0.0, 0.5],
        "tiny": [0.0, 0.0, 0.0003],
    }
    start = date(2026, 1, 1)
    n_days = len(next(iter(per_day.values())))
    totals = [sum(v[i] for v in per_day.values()) for i in range(n_days)]
    return CostReport(
        since="2026-01-01T00:00:00+00:00",
        until=f"{start + timedelta(days=n_days)}T00:00:00+00:00",
        by="blueprint",
        total_usd=sum(g.cost_usd for g in groups),
        runs=sum(g.runs for g in groups),
        groups=sorted(groups, key=lambda g: -g.cost_usd),
        timeline=days(start, totals),
        timeline_by_group={n: days(start, v) for n, v in per_day.items()},
        caught=CAUGHT if caught is None else caught,
        incident_cost_usd=incident_cost_usd,
        budgets=BUDGETS if budgets is None else budgets,
    )


def page(r: CostReport, title: str = "Test spend") -> tuple[str, Page]:
    html = render(r, title=title, generated_at=GENERATED)
    return html, Page(html)


def test_the_group_bars_sum_to_the_total_and_each_matches_its_group() -> None:
    r = report()
    _, p = page(r)
    bars = p.having("data-usd", "bar")
    assert float(p.chart("by-group")["data-total-usd"]) == r.total_usd
    assert sum(float(b["data-usd"]) for b in bars) == pytest.approx(r.total_usd)
    assert {b["data-group"]: float(b["data-usd"]) for b in bars} == {
        g.name: g.cost_usd for g in r.groups
    }
    assert [b["data-group"] for b in bars] == ["shop", "search", "tiny"]  # by cost, desc


def test_every_day_is_a_column_whose_segments_add_up_to_that_day() -> None:
    r = report()
    _, p = page(r)
    columns = p.having("data-day", "day")
    assert [(c["data-day"], float(c["data-usd"])) for c in columns] == r.timeline
    assert sum(float(c["data-usd"]) for c in columns) == pytest.approx(r.total_usd)
    assert float(p.chart("timeline")["data-total-usd"]) == r.total_usd
    # Segments follow their column in document order; group them back by day.
    by_day: dict[str, float] = {}
    day = ""
    for tag, a in p.elements:
        if "day" in a.get("class", "").split():
            day = a["data-day"]
            by_day[day] = 0.0
        elif tag == "rect" and "seg" in a.get("class", "").split():
            by_day[day] += float(a["data-usd"])
    assert by_day == pytest.approx(dict(r.timeline))
    assert by_day["2026-01-02"] == 0  # a day without spend is there, with no bar


def test_the_header_has_the_window_total_and_runs() -> None:
    r = report()
    html, p = page(r)
    (tile,) = p.having("data-total-usd", "tile")
    assert float(tile["data-total-usd"]) == r.total_usd
    assert p.having("data-runs")[0]["data-runs"] == "18"
    assert "2026-01-01 00:00 UTC → 2026-01-04 00:00 UTC" in html
    assert "$4.0003" not in html and "$4.00" in html  # dollars get cents only


def test_more_groups_than_colours_stack_the_rest_as_other() -> None:
    names = [f"bp{i:02d}" for i in range(MAX_BARS + 3)]
    groups = [Group(n, 1, 1, 0, 0, 1.0 + i / 100) for i, n in enumerate(reversed(names))]
    r = report(groups, {g.name: [g.cost_usd / 2, g.cost_usd / 2] for g in groups})
    _, p = page(r)
    bars = p.having("data-usd", "bar")
    assert len(bars) == MAX_BARS + 1 and bars[-1]["data-other"] == "3"
    assert sum(float(b["data-usd"]) for b in bars) == pytest.approx(r.total_usd)
    segments = p.having("data-group", "seg")
    assert {s["data-group"] for s in segments} == {
        *(g.name for g in r.groups[: len(PALETTE)]),
        OTHER,
    }
    assert sum(float(s["data-usd"]) for s in segments) == pytest.approx(r.total_usd)


def test_every_user_supplied_string_is_escaped() -> None:
    quote = '" onmouseover="alert(2)'
    r = report(
        [Group(XSS, 2, 1, 1, 0, 1.5), Group(quote, 1, 1, 0, 0, 0.5)],
        {XSS: [1.5], quote: [0.5]},
        caught=[Caught(XSS, XSS, XSS, quote, quote, XSS)],
        budgets=[{**BUDGETS[0], "name": XSS, "kind": XSS, "status": XSS, "message": quote}],
    )
    html, p = page(r, title=XSS)
    assert "<script" not in html.lower()
    assert "onmouseover" not in {k for _, a in p.elements for k in a}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert [b["data-group"] for b in p.having("data-usd", "bar")] == [XSS, quote]


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        (0, "$0"),
        (0.0003, "$0.0003"),
        (0.000312345, "$0.000312"),
        (0.0153, "$0.0153"),
        (0.5, "$0.50"),
        (0.123456, "$0.123"),
        (0.999999, "$1.00"),
        (1234.5, "$1,234.50"),
        (-2.5, "-$2.50"),
        (1e-9, "$0.000000001"),
    ],
)
def test_money_keeps_significant_digits_below_a_cent(usd: float, shown: str) -> None:
    assert money(usd) == shown


def test_tiny_amounts_are_not_shown_as_zero() -> None:
    groups = [Group("cheap", 1, 1, 0, 0, 0.0003)]
    html, p = page(report(groups, {"cheap": [0.0001, 0.0002]}, budgets=[]))
    assert not re.search(r"\$0\.00(?!\d)", html)
    text = " ".join(p.text)
    assert "$0.0003" in text and "$0.0001" in text and "$0.0002" in text


def test_the_page_loads_nothing_from_anywhere() -> None:
    html, p = page(report())
    assert not re.search(r"https?://", html)
    assert not [t for t, _ in p.elements if t in ("script", "link", "img", "iframe", "object")]
    assert not [k for _, a in p.elements for k in a if k in ("src", "href") or k.startswith("on")]
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in html  # and a browser would refuse it anyway


def test_the_same_input_gives_the_same_page() -> None:
    html, _ = page(report())
    assert html == page(report())[0]
    assert "2026-02-01 09:30 UTC" in html


def test_budgets_show_their_status() -> None:
    html, p = page(report())
    assert [(b["data-budget"], b["data-status"]) for b in p.having("data-status")] == [
        ("platform", "ok"),
        ("search", "exceeded"),
    ]
    (badge,) = [b for b in p.having("title", "badge") if "exceeded" in b["class"].split()]
    assert badge["title"] == "projected over"  # why, on hover
    assert 'search <span class="kind">blueprint</span>' in html
    assert "No budgets are set." in page(report(budgets=[]))[0]


def test_roi_compares_the_value_of_caught_defects_with_the_spend() -> None:
    r = report()
    _, p = page(r)
    assert p.having("data-caught")[0]["data-caught"] == "1"
    assert float(p.having("data-value-usd")[0]["data-value-usd"]) == 5000.0
    assert float(p.having("data-ratio")[0]["data-ratio"]) == pytest.approx(5000 / r.total_usd)
    assert "deadbeefdead" in " ".join(p.text)  # commits shortened, the full one in a title


def test_roi_without_an_incident_cost_says_so() -> None:
    html, p = page(report(incident_cost_usd=None, caught=[]))
    assert p.having("data-caught")[0]["data-caught"] == "0"
    assert not p.having("data-ratio") and "not estimated" in html


def test_an_empty_window_renders() -> None:
    empty = CostReport("2026-01-01", "2026-01-01", "owner", 0.0, 0, [], [], {}, [], None, [])
    html, p = page(empty)
    assert "No runs in this window." in html and "No days in this window." in html
    assert p.having("data-total-usd")[0]["data-total-usd"] == "0.0"


def test_a_quarter_of_days_still_labels_the_axis_sparsely() -> None:
    values = [0.5 + (i % 7) / 10 for i in range(92)]
    r = report([Group("shop", 92, 92, 0, 0, sum(values))], {"shop": values})
    html, p = page(r)
    assert len(p.having("data-day")) == 92
    (axis,) = re.findall(r'<g class="axis">(.*?)</g>', html)
    assert 8 <= axis.count("<text") <= 20  # one every few days, not 92 on top of each other
