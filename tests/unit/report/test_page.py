"""What both report pages share: the frame, cards, tiles, rows and timestamps."""

from __future__ import annotations

import pytest

from orchestrator.report import page
from tests.unit.report.html_page import Page


def test_a_document_fetches_nothing_and_its_own_rules_come_last() -> None:
    html = page.document("<b>title</b>", ".mine { color: red; }", "<p>body</p>", 'class="x"')
    parsed = Page(html)
    meta = [a for t, a in parsed.elements if t == "meta" and "http-equiv" in a]
    assert meta == [
        {
            "http-equiv": "Content-Security-Policy",
            "content": "default-src 'none'; style-src 'unsafe-inline'",
        }
    ]
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in html
    assert html.index(page.BASE_CSS) < html.index(".mine")
    assert parsed.first("main") == {"class": "x"} and "<main>" in page.document("t", "", "")


def test_cards_tiles_and_rows_escape_what_is_text_and_keep_what_is_html() -> None:
    assert page.card("<h>", "<em>x</em>", "alert") == (
        '<section class="card alert"><h2>&lt;h&gt;</h2><em>x</em></section>'
    )
    tile = Page(page.tile("Cost", "$1&times;", 'data-usd="1.0"', "a <note>"))
    assert tile.having("tile") == [{"class": "tile", "data-usd": "1.0"}]
    assert tile.text == "Cost $1\N{MULTIPLICATION SIGN} a <note>"
    assert page.row(["a", "1", "2"], text=1) == (
        '<tr><td>a</td><td class="num">1</td><td class="num">2</td></tr>'
    )
    assert page.count(0) == "0" and page.count(1200) == '<span class="bad">1,200</span>'


@pytest.mark.parametrize(
    ("iso", "seconds", "shown"),
    [
        ("2026-01-02T03:04:05+00:00", False, "2026-01-02 03:04 UTC"),
        ("2026-01-02T03:04:05+00:00", True, "2026-01-02 03:04:05 UTC"),
        ("2026-01-02T03:04:05+02:00", True, "2026-01-02 03:04:05 UTC+0200"),
        ("2026-01-02T03:04:05", False, "2026-01-02 03:04"),
        ("yesterday", False, "yesterday"),
    ],
)
def test_when(iso: str, seconds: bool, shown: str) -> None:
    assert page.when(iso, seconds=seconds) == shown
